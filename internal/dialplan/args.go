package dialplan

import "strings"

// SplitArgs splits application data at commas with Asterisk's rules
// (main/app.c __ast_app_separate_args with remove_chars): parentheses and
// square brackets nest, double quotes group and are removed, a backslash
// makes the next character literal and is removed. Leading blanks of each
// argument are trimmed. Empty data gives no arguments; a trailing comma
// gives a trailing empty argument.
func SplitArgs(data string) []string {
	return SplitArgsDelim(data, ',', -1)
}

// SplitArgsDelim is SplitArgs with another delimiter (AST_NONSTANDARD_APP_ARGS)
// and at most n arguments (n < 0: no limit); the last one keeps the rest
// of the data, delimiters included.
func SplitArgsDelim(data string, delim byte, n int) []string {
	return separateArgs(data, delim, n, true, true)
}

// SplitArgsRaw splits like SplitArgsDelim but keeps quotes and
// backslashes (AST_STANDARD_RAW_ARGS) and does not trim.
func SplitArgsRaw(data string, delim byte, n int) []string {
	return separateArgs(data, delim, n, false, false)
}

func separateArgs(data string, delim byte, n int, removeChars, trim bool) []string {
	if data == "" || n == 0 {
		return nil
	}
	var out []string
	var cur strings.Builder
	paren, bracket, quote := 0, 0, false
	start := true
	for i := 0; i < len(data); i++ {
		c := data[i]
		if start && trim && (c == ' ' || c == '\t') {
			continue
		}
		if start && n > 0 && len(out) == n-1 {
			// The last allowed argument takes the rest unparsed.
			return append(out, data[i:])
		}
		start = false
		switch {
		case c == '(':
			paren++
		case c == ')':
			if paren > 0 {
				paren--
			}
		case c == '[':
			bracket++
		case c == ']':
			if bracket > 0 {
				bracket--
			}
		case c == '"' && delim != '"':
			quote = !quote
			if removeChars {
				continue
			}
		case c == '\\':
			if i+1 < len(data) {
				if !removeChars {
					cur.WriteByte(c)
				}
				i++
				c = data[i]
			} else if removeChars {
				continue
			}
		case c == delim && paren == 0 && bracket == 0 && !quote:
			out = append(out, cur.String())
			cur.Reset()
			start = true
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}
