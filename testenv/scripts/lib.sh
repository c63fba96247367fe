# shellcheck shell=bash
# Shared helpers for the test-environment scripts. Source it; it defines functions only.

# Versions of every test dependency; a change here rebuilds the cached binary.
K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
VM_VERSION=${VM_VERSION:-v1.151.0}
CONTROLLER_TOOLS_VERSION=${CONTROLLER_TOOLS_VERSION:-v0.23.0}

# Built binaries live outside the repository so that a second run on the same machine reuses them.
CACHE_DIR=${CLUSTERPULSE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clusterpulse/testenv}
BIN_DIR=${BIN_DIR:-$CACHE_DIR/bin}
# RUN_DIR holds state, logs, pid files and the env file of a running environment.
RUN_DIR=${RUN_DIR:-${TMPDIR:-/tmp}/clusterpulse-testenv}

# free_port: print a TCP port on 127.0.0.1 that is free right now (kernel-chosen).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# alive PID: running and not a zombie (PID 1 on these machines reaps orphans only every 1-2 s,
# so `kill -0` alone reports a killed daemon as alive for that long).
alive() { ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'; }

# wait_ready PID TIMEOUT_S CMD...: retry CMD every 0.1 s until it succeeds; fail at once if PID died.
wait_ready() {
  local pid=$1 timeout=$2; shift 2
  local deadline=$(( $(date +%s%N) + timeout * 1000000000 ))
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || return 1
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# stop_pidfile FILE [TIMEOUT_S]: SIGTERM the pid in FILE, wait until it is really gone, then
# SIGKILL; remove FILE. FAST_STOP=1 sends SIGKILL at once (the state is thrown away anyway).
stop_pidfile() {
  local f=$1 t=${2:-15} pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if alive "$pid"; then
    if [ "${FAST_STOP:-0}" = 1 ]; then kill -9 "$pid" 2>/dev/null; else kill "$pid" 2>/dev/null; fi
    for _ in $(seq 1 $(( t * 10 ))); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      kill -9 "$pid" 2>/dev/null
      for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    fi
  fi
  rm -f "$f"
}

# ms_since START_NS: milliseconds elapsed since START_NS (from date +%s%N).
ms_since() { echo $(( ( $(date +%s%N) - $1 ) / 1000000 )); }

# start_daemon NAME LOGFILE PIDFILE CMD...: start CMD in the background without holding the
# caller's stdout/stderr open (CI captures output and would otherwise wait for the daemon).
start_daemon() {
  local log=$2 pidf=$3; shift 3
  "$@" </dev/null >"$log" 2>&1 &
  echo $! >"$pidf"
}
