# bash completion for vmdefrag-ctl: the socket's commands come from the
# VMM itself (query-commands), so they are the running VMM's.
#   source tools/vmdefrag-ctl.bash
_vmdefrag_ctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} i=1 sock
	local IFS=$'\n'

	while [[ $i -lt $COMP_CWORD && ${COMP_WORDS[i]} == -* ]]; do
		((i++))
	done
	if [[ $COMP_CWORD -eq $i ]]; then
		COMPREPLY=($(compgen -W $'watch\n--json\n--help' -- "$cur") $(compgen -f -- "$cur"))
		return
	fi
	sock=${COMP_WORDS[i]}
	if [[ $sock == watch ]]; then
		if [[ $COMP_CWORD -eq $((i + 1)) ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		else
			COMPREPLY=($(compgen -W --once -- "$cur"))
		fi
		return
	fi
	if [[ $COMP_CWORD -eq $((i + 1)) && -S $sock ]]; then
		COMPREPLY=($(compgen -W "$(vmdefrag-ctl --json "$sock" query-commands 2>/dev/null |
			sed -n 's/.*"name": *"\([^"]*\)".*/\1/p')"$'\n--events' -- "$cur"))
	fi
}
complete -F _vmdefrag_ctl vmdefrag-ctl
