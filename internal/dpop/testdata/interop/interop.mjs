// DPoP interop with panva's dpop and jose packages, for the Go test
// TestNodeInterop (internal/dpop/node_test.go).
//
//   node interop.mjs make '{"htu":...,"htm":...,"nonce":...,"token":...}'
//     prints a JSON array of proofs, {maker, alg, proof, jkt}, made by dpop
//     (ES256, Ed25519, PS256, RS256) and by jose (ES256, EdDSA), each
//     carrying that nonce and the token's hash (ath), with the key's
//     RFC 7638 thumbprint as that package computes it.
//   node interop.mjs verify < proofs.json
//     reads [{proof, htm, htu, token, nonce, jkt}] made in Go and prints
//     [{ok, error}]: jose verifies each with its embedded key and checks
//     typ, htm, htu, ath, nonce and the thumbprint.
//   node interop.mjs proofs '{"alg":...,"key":null|{private,public},"requests":[{htm,htu,nonce,token}]}'
//     prints {key, jkt, proofs}: dpop's proofs for each request (nonce and
//     ath when given), by the key given (JWKs, as a previous run printed
//     them) or a new one, for rjwthttp's end-to-end test
//     (rjwthttp/interop_test.go).
import * as DPoP from 'dpop';
import * as jose from 'jose';

async function make(req) {
  const out = [];
  for (const alg of ['ES256', 'Ed25519', 'PS256', 'RS256']) {
    const kp = await DPoP.generateKeyPair(alg, { extractable: true });
    for (let i = 0; i < 4; i++) {
      const proof = await DPoP.generateProof(kp, req.htu, req.htm, req.nonce, req.token);
      out.push({ maker: 'dpop', alg, proof, jkt: await DPoP.calculateThumbprint(kp.publicKey) });
    }
  }
  for (const alg of ['ES256', 'EdDSA']) {
    const { publicKey, privateKey } = await jose.generateKeyPair(alg, alg === 'EdDSA' ? { extractable: true, crv: 'Ed25519' } : { extractable: true });
    const jwk = await jose.exportJWK(publicKey);
    for (let i = 0; i < 4; i++) {
      const proof = await new jose.SignJWT({
        htm: req.htm, htu: req.htu, nonce: req.nonce,
        ath: jose.base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(req.token)))),
      })
        .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
        .setIssuedAt()
        .setJti(crypto.randomUUID())
        .sign(privateKey);
      out.push({ maker: 'jose', alg, proof, jkt: await jose.calculateJwkThumbprint(jwk) });
    }
  }
  return out;
}

async function verifyOne(p) {
  const { payload, protectedHeader } = await jose.jwtVerify(p.proof, jose.EmbeddedJWK, {
    typ: 'dpop+jwt',
    algorithms: ['ES256', 'EdDSA', 'Ed25519'],
    maxTokenAge: '60s',
  });
  const ath = jose.base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(p.token))));
  const checks = {
    htm: payload.htm === p.htm,
    htu: payload.htu === p.htu,
    ath: payload.ath === ath,
    nonce: payload.nonce === p.nonce,
    jti: typeof payload.jti === 'string' && payload.jti.length > 0,
    jkt: (await jose.calculateJwkThumbprint(protectedHeader.jwk)) === p.jkt,
    public: !('d' in protectedHeader.jwk),
  };
  const failed = Object.keys(checks).filter((k) => !checks[k]);
  if (failed.length > 0) throw new Error('claims: ' + failed.join(', '));
}

async function verify(proofs) {
  const out = [];
  for (const p of proofs) {
    try {
      await verifyOne(p);
      out.push({ ok: true });
    } catch (e) {
      out.push({ ok: false, error: String(e && e.message ? e.message : e) });
    }
  }
  return out;
}

async function proofs(req) {
  let kp;
  if (req.key) {
    kp = {
      privateKey: await jose.importJWK(req.key.private, req.alg, { extractable: false }),
      publicKey: await jose.importJWK(req.key.public, req.alg, { extractable: true }),
    };
  } else {
    kp = await DPoP.generateKeyPair(req.alg, { extractable: true });
  }
  const key = req.key || { private: await jose.exportJWK(kp.privateKey), public: await jose.exportJWK(kp.publicKey) };
  const out = [];
  for (const r of req.requests) {
    out.push(await DPoP.generateProof(kp, r.htu, r.htm, r.nonce || undefined, r.token || undefined));
  }
  return { key, jkt: await DPoP.calculateThumbprint(kp.publicKey), proofs: out };
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'make') {
  process.stdout.write(JSON.stringify(await make(JSON.parse(arg))));
} else if (mode === 'proofs') {
  process.stdout.write(JSON.stringify(await proofs(JSON.parse(arg))));
} else if (mode === 'verify') {
  process.stdout.write(JSON.stringify(await verify(JSON.parse(await readStdin()))));
} else {
  process.stderr.write('usage: node interop.mjs make <request JSON> | verify < proofs.json\n');
  process.exit(2);
}
