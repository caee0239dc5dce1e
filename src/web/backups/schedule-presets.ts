/** The schedule card's simple choices, and the cron expressions they stand for. */
export type Preset =
  | { kind: "hourly" }
  | { kind: "daily"; time: string }
  | { kind: "weekly"; day: number; time: string }
  | { kind: "custom"; cron: string };

export const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

const pad = (n: number) => String(n).padStart(2, "0");
const NUMBER = "(\\d{1,2})";

/** The preset a cron expression is, or `custom` when it is anything else. */
export function presetOf(cron: string): Preset {
  const text = cron.trim().replace(/\s+/g, " ");
  if (text === "@hourly" || text === "0 * * * *") return { kind: "hourly" };
  if (text === "@daily") return { kind: "daily", time: "00:00" };
  if (text === "@weekly") return { kind: "weekly", day: 0, time: "00:00" };
  const daily = new RegExp(`^${NUMBER} ${NUMBER} \\* \\* \\*$`).exec(text);
  const weekly = new RegExp(`^${NUMBER} ${NUMBER} \\* \\* ([0-7])$`).exec(text);
  const match = daily ?? weekly;
  if (match) {
    const [minute, hour] = [Number(match[1]), Number(match[2])];
    if (minute <= 59 && hour <= 23) {
      const time = `${pad(hour)}:${pad(minute)}`;
      return weekly ? { kind: "weekly", day: Number(weekly[3]) % 7, time } : { kind: "daily", time };
    }
  }
  return { kind: "custom", cron: cron.trim() };
}

/** The cron expression a preset stands for; a time the browser could not read is passed on for the server to refuse. */
export function cronOf(preset: Preset): string {
  if (preset.kind === "custom") return preset.cron.trim();
  if (preset.kind === "hourly") return "0 * * * *";
  const [hour, minute] = preset.time.split(":").map(Number);
  const at = `${minute ?? 0} ${hour ?? 0}`;
  return preset.kind === "daily" ? `${at} * * *` : `${at} * * ${preset.day}`;
}
