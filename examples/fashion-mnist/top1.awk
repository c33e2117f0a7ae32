# Prints the top-1 accuracy, in percent with two decimals, from the output of
# `irrun --eval` or `simulate --eval`: the first line that mentions top-1.
# Accepts "... (9017/10000)", "... 90.17%" or a bare fraction "... 0.9017",
# so the summary does not depend on the exact wording of either tool.
function num(s) { return s + 0 }
tolower($0) ~ /top-?1/ && !found {
	line = $0
	if (match(line, /[0-9]+\/[0-9]+/)) {
		split(substr(line, RSTART, RLENGTH), kn, "/")
		if (num(kn[2]) > 0) { pct = 100 * num(kn[1]) / num(kn[2]); found = 1 }
	}
	if (!found && match(line, /[0-9]+(\.[0-9]+)?%/)) {
		pct = num(substr(line, RSTART, RLENGTH - 1)); found = 1
	}
	if (!found) {
		# the last number on the line; at most 1 means a fraction
		rest = line
		while (match(rest, /[0-9]+(\.[0-9]+)?/)) {
			v = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH); have = 1
		}
		if (have) { pct = num(v) <= 1 ? 100 * num(v) : num(v); found = 1 }
	}
}
END {
	if (!found) { print "no top-1 line in the output" > "/dev/stderr"; exit 1 }
	printf "%.2f\n", pct
}
