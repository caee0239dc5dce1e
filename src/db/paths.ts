import path from "node:path";

/** Every on-disk location the service uses (SPEC §2), derived from the data dir. */
export interface DataPaths {
  root: string;
  databasesDir: string;
  backupsDir: string;
  settingsFile: string;
  dbDir(name: string): string;
  dbFile(name: string): string;
  preRestoreFile(name: string): string;
  backupDir(name: string): string;
}

export function dataPaths(root: string): DataPaths {
  const databasesDir = path.join(root, "databases");
  const backupsDir = path.join(root, "backups");
  const dbDir = (name: string) => path.join(databasesDir, name);
  return {
    root,
    databasesDir,
    backupsDir,
    settingsFile: path.join(root, "server-settings.json"),
    dbDir,
    dbFile: (name) => path.join(dbDir(name), "app.db"),
    preRestoreFile: (name) => path.join(dbDir(name), "app.db.pre_restore"),
    backupDir: (name) => path.join(backupsDir, name),
  };
}
