import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { api, type Inputs, type Outputs } from "../api.js";
import { browserZone, formatClock, formatLocal, formatRelative, nextWallTime, parseIso } from "../format.js";
import { ErrorAlert, Notice, Spinner } from "../ui/Alert.js";
import { useNow, When } from "../ui/When.js";
import { cronOf, type Preset, presetOf, WEEKDAYS } from "./schedule-presets.js";
import "./schedule.css";

type Schedule = Outputs["schedule"]["get"];
type Retention = Inputs["schedule"]["set"]["retention"];

/** Under the backups key, so whatever refreshes the list (a backup, a restore) refreshes these too. */
export const scheduleKeys = {
  schedule: (database: string) => ["backups", database, "schedule"] as const,
  health: (database: string) => ["backups", database, "health"] as const,
};

const RULES = [
  ["keep_last", "Keep last"],
  ["keep_hourly", "Keep hourly"],
  ["keep_daily", "Keep daily"],
  ["keep_weekly", "Keep weekly"],
  ["keep_monthly", "Keep monthly"],
  ["keep_yearly", "Keep yearly"],
] as const;

function timeZones(): string[] {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return ["UTC", ...zones.filter((z) => z !== "UTC")];
}

/** The schedule and retention of one database, with its next run and the last run's outcome. */
export function ScheduleCard({ database }: { database: string }) {
  const titleId = useId();
  const [saved, setSaved] = useState<string | null>(null);
  const schedule = useQuery({
    queryKey: scheduleKeys.schedule(database),
    queryFn: () => api.schedule.get.query({ database }),
  });
  return (
    <section className="schedule-card" aria-labelledby={titleId}>
      <h2 id={titleId}>Schedule</h2>
      <ErrorAlert error={schedule.error} />
      {schedule.data ? (
        <>
          <RunSummary schedule={schedule.data} />
          <ScheduleForm
            key={JSON.stringify([
              schedule.data.enabled,
              schedule.data.cron,
              schedule.data.timezone,
              schedule.data.retention,
            ])}
            database={database}
            schedule={schedule.data}
            onSaved={setSaved}
          />
          <Notice>{saved}</Notice>
        </>
      ) : (
        !schedule.error && <p role="status">Loading…</p>
      )}
    </section>
  );
}

/** For a sentence: local time and how far from now ("in 17 h"). */
function when(iso: string | null | undefined): string {
  const date = parseIso(iso);
  return date ? `${formatLocal(date)} (${formatRelative(date, new Date())})` : "—";
}

function At({ iso }: { iso: string | null | undefined }) {
  const date = parseIso(iso);
  return date ? <When date={date} /> : <>—</>;
}

function RunSummary({ schedule }: { schedule: Schedule }) {
  const last = schedule.last_run;
  return (
    <dl>
      <dt>Next run</dt>
      <dd>{schedule.enabled ? <At iso={schedule.next_run_at} /> : "off (scheduled backups are disabled)"}</dd>
      <dt>Last run</dt>
      <dd>
        {last ? (
          <>
            {last.outcome} at <At iso={last.at} />
            {last.filename ? ` — ${last.filename}` : ""}
            {last.error ? ` — ${last.error}` : ""}
          </>
        ) : (
          "none yet"
        )}
      </dd>
    </dl>
  );
}

/**
 * The chosen time in the schedule's zone and in the browser's: "02:00 UTC — 03:00 your time (Europe/Berlin)".
 * Read at the next time it happens, so a zone's summer time is counted as it will be then.
 */
function ZoneHint({ time, timezone }: { time: string; timezone: string }) {
  const now = useNow(60_000);
  const mine = browserZone();
  const next = nextWallTime(time, timezone, now);
  if (!next) return <small className="zone-hint">{timezone} is not a time zone this browser knows.</small>;
  if (mine === timezone) return <small className="zone-hint">{`${time} ${timezone} — your time zone too`}</small>;
  return <small className="zone-hint">{`${time} ${timezone} — ${formatClock(next)} your time (${mine})`}</small>;
}

interface FormProps {
  database: string;
  schedule: Schedule;
  /** The form is re-created from the saved schedule, so the confirmation lives with the card. */
  onSaved(message: string | null): void;
}

function ScheduleForm({ database, schedule, onSaved }: FormProps) {
  const client = useQueryClient();
  const zonesId = useId();
  const zoneHintId = useId();
  const [enabled, setEnabled] = useState(schedule.enabled);
  const [preset, setPreset] = useState<Preset>(presetOf(schedule.cron));
  const [timezone, setTimezone] = useState(schedule.timezone);
  const [counts, setCounts] = useState<Record<string, string>>(() =>
    Object.fromEntries(RULES.map(([rule]) => [rule, String(schedule.retention[rule] ?? "")])),
  );
  const save = useMutation({
    mutationFn: () => {
      const retention: Retention = {};
      for (const [rule] of RULES) {
        const text = counts[rule]?.trim() ?? "";
        if (text !== "") retention[rule] = Number(text);
      }
      return api.schedule.set.mutate({ database, enabled, cron: cronOf(preset), timezone, retention });
    },
    onMutate: () => onSaved(null),
    onSuccess: (result) => {
      onSaved(result.enabled ? `Schedule saved. Next run: ${when(result.next_run_at)}.` : "Scheduled backups are off.");
      client.setQueryData(scheduleKeys.schedule(database), result);
      void client.invalidateQueries({ queryKey: scheduleKeys.health(database) });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const time = preset.kind === "daily" || preset.kind === "weekly" ? preset.time : "02:00";
  const choose = (kind: Preset["kind"]) => {
    if (kind === "hourly") setPreset({ kind });
    else if (kind === "daily") setPreset({ kind, time });
    else if (kind === "weekly") setPreset({ kind, time, day: preset.kind === "weekly" ? preset.day : 1 });
    else setPreset({ kind, cron: cronOf(preset) });
  };

  return (
    <form onSubmit={submit} aria-label="Schedule settings">
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
        Run scheduled backups
      </label>
      <div className="fields">
        <label>
          Frequency
          <select value={preset.kind} onChange={(e) => choose(e.currentTarget.value as Preset["kind"])}>
            <option value="hourly">Hourly</option>
            <option value="daily">Daily at a time</option>
            <option value="weekly">Weekly</option>
            <option value="custom">Custom</option>
          </select>
        </label>
        {preset.kind === "weekly" && (
          <label>
            Day
            <select value={preset.day} onChange={(e) => setPreset({ ...preset, day: Number(e.currentTarget.value) })}>
              {WEEKDAYS.map((name, day) => (
                <option key={name} value={day}>
                  {name}
                </option>
              ))}
            </select>
          </label>
        )}
        {(preset.kind === "daily" || preset.kind === "weekly") && (
          <label>
            Time
            <input
              type="time"
              required
              value={preset.time}
              aria-describedby={zoneHintId}
              onChange={(e) => setPreset({ ...preset, time: e.currentTarget.value })}
            />
          </label>
        )}
        {(preset.kind === "daily" || preset.kind === "weekly") && (
          <span id={zoneHintId} className="zone-hint-cell">
            <ZoneHint time={preset.time} timezone={timezone} />
          </span>
        )}
        {preset.kind === "custom" && (
          <label>
            Cron expression
            <input
              className="mono"
              value={preset.cron}
              spellCheck={false}
              onChange={(e) => setPreset({ kind: "custom", cron: e.currentTarget.value })}
            />
            <small>5 fields, 6 with seconds first, or @hourly, @daily, @weekly, @monthly</small>
          </label>
        )}
        <label>
          Time zone
          <input list={zonesId} value={timezone} onChange={(e) => setTimezone(e.currentTarget.value)} />
          <datalist id={zonesId}>
            {timeZones().map((zone) => (
              <option key={zone} value={zone} />
            ))}
          </datalist>
        </label>
      </div>
      <small>
        The time, and the days, weeks and months retention counts, are read in this time zone; the next run above is
        shown in your local time.
      </small>
      <fieldset>
        <legend>Retention of scheduled backups (restic rules; empty means the rule is off)</legend>
        {RULES.map(([rule, label]) => (
          <label key={rule}>
            {label}
            <input
              type="number"
              min={0}
              step={1}
              inputMode="numeric"
              value={counts[rule] ?? ""}
              onChange={(e) => setCounts({ ...counts, [rule]: e.currentTarget.value })}
            />
          </label>
        ))}
      </fieldset>
      <div>
        <button type="submit" className="primary" disabled={save.isPending} aria-busy={save.isPending}>
          {save.isPending ? (
            <>
              <Spinner /> Saving…
            </>
          ) : (
            "Save schedule"
          )}
        </button>
      </div>
      <ErrorAlert error={save.error} />
    </form>
  );
}
