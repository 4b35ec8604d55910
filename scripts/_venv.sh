# Sourced by scripts/advisor and scripts/test: make .venv and install the project.
# Idempotent and quiet when everything is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ADVISOR_VENV:-$ROOT/.venv}"
EXTRAS="${1:-}"

# Debian's own Python when it exists: a fresh Debian 12 has only
# /usr/bin/python3 (3.11.2), and a newer python3 found first on PATH (pyenv)
# can behave differently (ssl EOF errors, for one): run what users run.
PY="${ADVISOR_PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY="$(command -v python3)"; fi
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "setting up $VENV with $("$PY" --version 2>&1) ..." >&2
    "$PY" -m venv "$VENV"
fi
# Reinstall only when pyproject.toml changed since the last install.
STAMP="$VENV/.advisor-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
    # A first run must not look like a failed one: no "new pip available" notice, and
    # not setuptools' "Editable installation." note (InformationOnly, issued on every
    # editable install; any real warning, such as an undeclared data folder, still shows).
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONWARNINGS="ignore:Editable installation" \
        "$VENV/bin/python" -m pip install --quiet -e "$ROOT${EXTRAS:+[$EXTRAS]}" >&2
    touch "$STAMP"
fi
