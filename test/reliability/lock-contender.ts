// A second process for the lock tests: takes the operation lock `rounds` times with a marker file in the
// critical section, or (mode "hold", or "drop": its handle let go) takes it once and prints "held" until it is killed.
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { OperationLocks } from "../../src/services/locks.js";

const [dir, mode, rounds] = process.argv.slice(2) as [string, string, string];
const locks = new OperationLocks(() => dir);
if (mode === "drop") {
  // The handle dropped, then collected (node --expose-gc), while the locks live on as a server's do (in its deps):
  // the lock is still held until release.
  locks.acquire("default", "backup");
  (globalThis as { gc?: () => void }).gc?.();
  setTimeout(() => {
    (globalThis as { gc?: () => void }).gc?.();
    process.stdout.write("held\n");
  }, 50);
  setInterval(() => locks, 1000);
} else if (mode === "hold") {
  // Kept reachable: a lock handle the garbage collector takes closes its connection, and the kernel lock goes with it.
  const held = locks.acquire("default", "backup");
  process.stdout.write("held\n");
  setInterval(() => held, 1000);
} else {
  const marker = `${dir}/inside`;
  let entered = 0;
  let overlaps = 0;
  for (let i = 0; i < Number(rounds); i++) {
    const lock = locks.tryAcquire("default", "backup");
    if (!lock) continue;
    if (existsSync(marker)) overlaps++;
    writeFileSync(marker, String(process.pid));
    entered++;
    rmSync(marker);
    lock.release();
  }
  process.stdout.write(`${JSON.stringify({ entered, overlaps })}\n`);
}
