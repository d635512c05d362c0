// The official JavaScript storage SDK (@azure/storage-blob) doing what the .NET worker does: upload a file
// as a block blob, then download it to nowhere. Prints one JSON line with timings and peak memory.
// Usage: node js-sdk.mjs <blobEndpoint> <account> <key> <container> <file> <blockSize> <concurrency>
import { createRequire } from "node:module";
import { readFileSync, statSync } from "node:fs";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "..", "eng", "package.json"));
const { BlobServiceClient, StorageSharedKeyCredential } = require("@azure/storage-blob");

const [endpoint, account, key, containerName, file, blockSize, concurrency] = process.argv.slice(2);
const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, key));
const container = service.getContainerClient(containerName);
await container.createIfNotExists();
const blob = container.getBlockBlobClient("bench-js.bin");
const size = statSync(file).size;

let t = process.hrtime.bigint();
await blob.uploadFile(file, { blockSize: Number(blockSize), concurrency: Number(concurrency), maxSingleShotSize: Number(blockSize) });
const uploadSeconds = Number(process.hrtime.bigint() - t) / 1e9;

t = process.hrtime.bigint();
const response = await blob.download(0);
let received = 0;
await pipeline(response.readableStreamBody, new Writable({ write(chunk, _enc, done) { received += chunk.length; done(); } }));
const downloadSeconds = Number(process.hrtime.bigint() - t) / 1e9;
if (received !== size) throw new Error(`downloaded ${received} bytes of ${size}`);

const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
console.log(JSON.stringify({ side: "JavaScript @azure/storage-blob 12.34.0", bytes: size, uploadSeconds, downloadSeconds, peakRssMiB: Number(hwm[1]) / 1024 }));
