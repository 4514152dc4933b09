/** `kubectl cutover completion bash|zsh`: shell completion of commands, flags and object names. */
export const COMMANDS = [
  'status',
  'approve',
  'pause',
  'resume',
  'promote',
  'abort',
  'rollback',
  'rerun',
  'report',
  'runbook',
  'dashboard',
  'validate',
  'reconcile',
  'version',
  'completion',
  'help',
] as const;

const FLAGS = [
  '--namespace',
  '--kubeconfig',
  '--context',
  '--output',
  '--watch',
  '--reason',
  '--by',
  '--part',
];

/** Names for a command's argument, listed by kubectl (works when kubectl works). */
const NAMES_BY_COMMAND = `case "$cmd" in
    rerun) kinds=reconciliations.cutover.nokta.io ;;
    promote|abort) kinds=canaryphases.cutover.nokta.io ;;
    *) kinds=cutovers.cutover.nokta.io ;;
  esac`;

export function bashCompletion(): string {
  return `# bash completion for kubectl-cutover (kubectl cutover): source <(kubectl-cutover completion bash)
_kubectl_cutover() {
  local cur cmd kinds
  cur="\${COMP_WORDS[COMP_CWORD]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${COMMANDS.join(' ')}" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[COMP_CWORD-1]}" in
    -o|--output) COMPREPLY=( $(compgen -W "text json yaml" -- "$cur") ); return ;;
    -n|--namespace) COMPREPLY=( $(compgen -W "$(kubectl get namespaces -o name 2>/dev/null | sed 's|^namespace/||')" -- "$cur") ); return ;;
  esac
  if [ "$cmd" = completion ]; then COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ); return; fi
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "${FLAGS.join(' ')}" -- "$cur") ); return; fi
  ${NAMES_BY_COMMAND}
  COMPREPLY=( $(compgen -W "$(kubectl get "$kinds" -o name 2>/dev/null | sed 's|^.*/||')" -- "$cur") )
}
complete -F _kubectl_cutover kubectl-cutover
complete -F _kubectl_cutover kubectl_cutover
`;
}

export function zshCompletion(): string {
  return `#compdef kubectl-cutover
# zsh completion for kubectl-cutover (kubectl cutover): source <(kubectl-cutover completion zsh)
_kubectl_cutover() {
  local cmd kinds
  if (( CURRENT == 2 )); then
    compadd -- ${COMMANDS.join(' ')}
    return
  fi
  cmd=\${words[2]}
  case \${words[CURRENT-1]} in
    -o|--output) compadd -- text json yaml; return ;;
  esac
  if [[ $cmd == completion ]]; then compadd -- bash zsh; return; fi
  if [[ \${words[CURRENT]} == -* ]]; then compadd -- ${FLAGS.join(' ')}; return; fi
  ${NAMES_BY_COMMAND}
  compadd -- \${(f)"$(kubectl get $kinds -o name 2>/dev/null | sed 's|^.*/||')"}
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _kubectl_cutover "$@"; else compdef _kubectl_cutover kubectl-cutover; fi
`;
}
