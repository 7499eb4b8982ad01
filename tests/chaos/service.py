"""One `quire serve` process under the chaos harness: start, SIGKILL (and check that its `quire worker`
children die with it), SIGTERM, readiness, and the few HTTP calls the harness makes."""
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None, timeout=30.0, chunks=1, chunk_pause=0.0):
    """One request on a fresh connection. Returns (status, headers dict, body bytes). Raises OSError or
    http.client.HTTPException when the service is not there or dies mid-request. With chunks > 1 the
    body goes out in pieces with pauses between them (a slow client: the kill can land mid-upload)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.putheader("Connection", "close")
        conn.endheaders()
        if body:
            step = max(1, -(-len(body) // chunks))
            for off in range(0, len(body), step):
                conn.send(body[off:off + step])
                if chunk_pause and off + step < len(body):
                    time.sleep(chunk_pause)
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def multipart(pdf, filename):
    boundary = "chaos" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode() + pdf + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def children_of(pid):
    """Pids whose parent is `pid` (the converters' `quire worker` processes)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def alive(pid):
    """True while `pid` exists and is not a zombie (an orphan nobody reaped is dead for our purpose)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


class Service:
    def __init__(self, name, binary, env, log_path):
        self.name = name
        self.binary = binary
        self.port = free_port()
        self.env = dict(env)
        self.env["QUIRE_LISTEN"] = f"127.0.0.1:{self.port}"
        # the default (QUIRE_LISTEN's port + 1) may belong to another service of the run
        self.env.setdefault("QUIRE_PROBE_LISTEN", f"127.0.0.1:{free_port()}")
        self.log_path = log_path
        self.proc = None
        self.starts = 0
        self.unexpected_exits = []  # exit statuses of processes that died without our signal
        self.lock = threading.RLock()  # the killer, the watchdog and the main thread share proc

    def start(self):
        with self.lock:
            self._start()

    def _start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
        env.update(self.env)
        log = open(self.log_path, "ab")
        log.write(f"---- chaos: start #{self.starts + 1} ----\n".encode())
        log.flush()
        self.proc = subprocess.Popen([self.binary, "serve"], env=env, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        self.starts += 1

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def watchdog(self):
        """Records an exit we did not cause and starts the service again; True when that happened."""
        with self.lock:
            if self.proc is None or self.proc.poll() is None:
                return False
            self.unexpected_exits.append(self.proc.returncode)
            self._start()
            return True

    def kill9(self, orphan_wait=5.0):
        """SIGKILL the service; returns the `quire worker` children that outlived it (should be none:
        the worker sets PR_SET_PDEATHSIG)."""
        with self.lock:
            if not self.running():
                return []
            workers = children_of(self.proc.pid)
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None
        deadline = time.monotonic() + orphan_wait
        while time.monotonic() < deadline and any(alive(w) for w in workers):
            time.sleep(0.05)
        survivors = [w for w in workers if alive(w)]
        for w in survivors:  # do not let them pollute the rest of the run
            try:
                os.kill(w, signal.SIGKILL)
            except OSError:
                pass
        return survivors

    def terminate(self, timeout=60.0):
        """SIGTERM (drain); returns the exit status, or None when it did not exit in time (then killed)."""
        with self.lock:
            if not self.running():
                return None
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
            self.proc = None
            return rc

    def ready(self):
        try:
            status, _, _ = request(self.port, "GET", "/readyz", timeout=5)
            return status == 200
        except (OSError, http.client.HTTPException):
            return False

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return True
            time.sleep(0.2)
        return False

    def info(self):
        status, _, body = request(self.port, "GET", "/v1/info", timeout=5)
        return json.loads(body) if status == 200 else {}
