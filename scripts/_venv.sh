# Sourced by scripts/advisor and scripts/test: make .venv and install the project.
# Idempotent and quiet when everything is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ADVISOR_VENV:-$ROOT/.venv}"
EXTRAS="${1:-}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "setting up $VENV ..." >&2
    python3 -m venv "$VENV"
fi
# Reinstall only when pyproject.toml changed since the last install.
STAMP="$VENV/.advisor-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT${EXTRAS:+[$EXTRAS]}" >&2
    touch "$STAMP"
fi
