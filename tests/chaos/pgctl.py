"""PostgreSQL for the chaos harness: a throwaway cluster (or the one scripts/test started), psql
queries, fresh databases, and restarts with `pg_ctl restart` in fast or immediate mode.

Mirrors scripts/lib/pg.sh (same server options), so a cluster started there can be restarted here:
`pg_ctl restart` reuses the options recorded in postmaster.opts.
"""
import os
import random
import shutil
import subprocess
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"


def _as_postgres():
    # initdb and the server refuse to run as root.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Postgres:
    def __init__(self, pg_dir=None, admin_url=None):
        self.owned = pg_dir is None
        self.dir = pg_dir or tempfile.mkdtemp(prefix="quire-chaos-pg.")
        self.admin_url = admin_url
        self.restarts = {"fast": 0, "immediate": 0}

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    def start(self):
        """Initialise and start an owned cluster on a random loopback port."""
        if not self.owned:
            return
        sock = os.path.join(self.dir, "sock")
        os.makedirs(sock, exist_ok=True)
        os.chmod(self.dir, 0o777)
        os.chmod(sock, 0o777)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(sock, "postgres", "postgres")
        subprocess.run(_as_postgres() + [f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U", "quire"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = 20000 + random.randrange(20000)
        subprocess.run(_as_postgres() + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                                         "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 "
                                               "-c fsync=on -c max_connections=200", "start"],
                       check=True, stdout=subprocess.DEVNULL)
        self.admin_url = f"postgresql://quire@127.0.0.1:{port}/postgres"

    @property
    def log(self):
        return os.path.join(self.dir, "server.log")

    def stop(self, remove=True):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(_as_postgres() + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.owned and remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self, mode):
        """pg_ctl restart -m fast|immediate; returns the seconds the server was away."""
        t0 = time.monotonic()
        subprocess.run(_as_postgres() + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-m", mode,
                                         "-w", "-t", "120", "restart"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.restarts[mode] += 1
        return time.monotonic() - t0

    def outage(self, seconds):
        """Stops the server (-m fast), stays away `seconds`, starts it again with the options it had
        (postmaster.opts holds its command line). Returns the seconds it was away."""
        t0 = time.monotonic()
        with open(os.path.join(self.data, "postmaster.opts")) as f:
            opts = f.read().strip().split(" ", 1)[1]
        subprocess.run(_as_postgres() + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(seconds)
        subprocess.run(_as_postgres() + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "120",
                                         "-o", opts, "start"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.restarts["outage"] = self.restarts.get("outage", 0) + 1
        return time.monotonic() - t0

    def fresh_database(self, prefix):
        name = f"{prefix}_{random.randrange(10**8)}"
        self.psql(self.admin_url, f"CREATE DATABASE {name}")
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    @staticmethod
    def psql(url, sql, retry_for=60.0):
        """Rows of `sql` as lists of strings. Retries while the server is restarting."""
        deadline = time.monotonic() + retry_for
        while True:
            r = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                               capture_output=True, text=True)
            if r.returncode == 0:
                return [line.split("\t") for line in r.stdout.splitlines() if line != ""]
            if time.monotonic() > deadline:
                raise RuntimeError(f"psql failed: {r.stderr.strip()}")
            time.sleep(0.5)
