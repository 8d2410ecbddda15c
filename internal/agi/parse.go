package agi

import "strings"

// maxArgs is res_agi.c's MAX_ARGS: a command line has at most maxArgs-1
// words; further words are dropped ("Too many arguments, truncating").
const maxArgs = 128

// ParseArgs splits an AGI command line into words as res_agi.c's
// parse_args does: words are separated by spaces and tabs; a double quote
// toggles quoting (a quote that opens after whitespace starts a word, so
// "" is an empty word); a backslash makes the next character literal,
// including a quote, a space or another backslash. Quotes in the middle of
// a word only toggle quoting (a"b c"d is the one word ab cd). A trailing
// space does not make an empty word.
func ParseArgs(line string) []string {
	var (
		words      []string
		cur        []byte
		inWord     bool
		quoted     bool
		escaped    bool
		whitespace = true
		dropping   bool // past maxArgs-1 words: characters are discarded
	)
	end := func() {
		if inWord {
			words = append(words, string(cur))
			cur = cur[:0]
			inWord = false
		}
	}
	start := func() bool {
		if len(words) >= maxArgs-1 {
			dropping = true
			return false
		}
		end()
		inWord = true
		whitespace = false
		dropping = false
		return true
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"' && !escaped:
			quoted = !quoted
			if quoted && whitespace {
				start()
			}
			escaped = false
			continue
		case (c == ' ' || c == '\t') && !quoted && !escaped:
			whitespace = true
			end()
			continue
		case c == '\\' && !escaped:
			escaped = true
			continue
		}
		// A normal character (or an escaped/quoted special one).
		if whitespace {
			if !start() {
				escaped = false
				continue
			}
		}
		if dropping {
			escaped = false
			continue
		}
		cur = append(cur, c)
		escaped = false
	}
	end()
	return words
}

// quoteArg quotes a word for an AGI command line the way clients do, for
// tests and the bench: bare when it has no space, quote or backslash.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"\\") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
