// A second process for the lock tests: takes the operation lock `rounds` times with a marker file in the
// critical section, or (mode "hold") takes it once and prints "held" until it is killed.
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { OperationLocks } from "../../src/services/locks.js";

const [dir, mode, rounds] = process.argv.slice(2) as [string, string, string];
const locks = new OperationLocks(() => dir);
if (mode === "hold") {
  locks.acquire("default", "backup");
  process.stdout.write("held\n");
  setInterval(() => {}, 1000);
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
