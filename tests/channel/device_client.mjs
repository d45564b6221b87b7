// A remote operator client with its own Ed25519 device identity, as the Control UI is one: connects to
// the gateway as if through the server's Caddy (X-Forwarded-For of a remote address; the gateway trusts
// its loopback proxy), signs the challenge (protocol v3 payload) and prints the outcome as one JSON line.
//   node device_client.mjs <ws module dir> <port> <token> <identity.json> <origin>
import { createRequire } from "node:module";
import crypto from "node:crypto";
import fs from "node:fs";

const [wsDir, port, token, identityFile, origin] = process.argv.slice(2);
const WebSocket = createRequire(wsDir + "/")("ws");

let identity;
if (fs.existsSync(identityFile)) {
  identity = JSON.parse(fs.readFileSync(identityFile, "utf8"));
} else {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  identity = {
    id: crypto.createHash("sha256").update(raw).digest("hex"),
    publicKey: raw.toString("base64url"),
    privateKey: privateKey.export({ format: "pem", type: "pkcs8" }),
  };
  fs.writeFileSync(identityFile, JSON.stringify(identity));
}

const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
  headers: { "X-Forwarded-For": "198.51.100.7", Origin: origin },
});
const done = (result) => {
  process.stdout.write(JSON.stringify(result) + "\n");
  ws.terminate();
  process.exit(0);
};
setTimeout(() => done({ outcome: "timeout" }), 30000);
ws.on("error", (error) => done({ outcome: "error", message: String(error) }));
ws.on("close", (code, reason) => done({ outcome: "closed", code, reason: String(reason) }));
ws.on("message", (data) => {
  const frame = JSON.parse(String(data));
  if (frame.type === "event" && frame.event === "connect.challenge") {
    const { nonce, ts } = frame.payload;
    const client = { id: "cli", version: "1.0.0", platform: "linux", mode: "cli" };
    const scopes = ["operator.read"];
    const payload = ["v3", identity.id, client.id, client.mode, "operator", scopes.join(","), String(ts), token,
      nonce, "linux", ""].join("|");
    const signature = crypto.sign(null, Buffer.from(payload), identity.privateKey).toString("base64url");
    ws.send(JSON.stringify({
      type: "req", id: "c1", method: "connect",
      params: {
        minProtocol: 4, maxProtocol: 4, client, role: "operator", scopes, caps: [], commands: [], permissions: {},
        auth: { token }, locale: "en-US", userAgent: "clawhost-test/1.0",
        device: { id: identity.id, publicKey: identity.publicKey, signature, signedAt: ts, nonce },
      },
    }));
  } else if (frame.type === "res" && frame.id === "c1") {
    if (frame.ok) done({ outcome: "hello-ok", scopes: frame.payload?.auth?.scopes });
    else done({ outcome: "refused", code: frame.error?.details?.code ?? frame.error?.code, message: frame.error?.message });
  }
});
