# `unwedge sc<TAB>` in bash, driven through the completion function that
# `complete -p unwedge` names; prints the candidates, one a line.
# $1: bash-completion's bash_completion; $2: a completion file to source, or
# empty to let bash-completion load the installed one as it does on <TAB>.
set -u
source "$1"
if [ -n "${2:-}" ]; then source "$2"; else _completion_loader unwedge; fi
spec=$(complete -p unwedge) || { echo "no completion for unwedge" >&2; exit 1; }
fn=$(sed -n 's/.*-F \([^ ]*\).*/\1/p' <<<"$spec")
COMP_WORDS=(unwedge sc); COMP_CWORD=1; COMP_LINE="unwedge sc"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
"$fn" unwedge sc unwedge
printf '%s\n' "${COMPREPLY[@]}"
