package speech

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/speech/jsgf"
)

// GrammarKind says how a grammar is searched.
type GrammarKind int

const (
	// KindJSGF is a closed grammar: the recognizer returns the best
	// sentence of the grammar (pocketsphinx's fsg search).
	KindJSGF GrammarKind = iota
	// KindKeywords is keyword spotting: the recognizer listens for any of a
	// list of phrases in free speech (pocketsphinx's kws search). It is the
	// alternative to a grammar for callers who say more than the keyword.
	KindKeywords
)

func (k GrammarKind) String() string {
	if k == KindKeywords {
		return "keywords"
	}
	return "jsgf"
}

// Keyword is one phrase of a keyword-spotting grammar.
type Keyword struct {
	Phrase string
	// Threshold is pocketsphinx's detection threshold (-kws_threshold), a
	// probability such as 1e-20: smaller detects more (and more falsely).
	// 0 means DefaultKeywordThreshold.
	Threshold float64
}

// DefaultKeywordThreshold is the threshold of keywords that give none.
const DefaultKeywordThreshold = 1e-20

// Grammar is a loaded, checked grammar: a JSGF grammar or a keyword list.
// It is immutable and may be shared by many recognizers.
type Grammar struct {
	kind     GrammarKind
	source   string // file path, "string:LABEL" or "builtin:..."
	jsgf     *jsgf.Grammar
	keywords []Keyword
	words    []string // distinct words, lower case, sorted
	key      string   // content hash, the engines' cache key
}

// Kind returns the grammar's search kind.
func (g *Grammar) Kind() GrammarKind { return g.kind }

// Source names where the grammar came from (a path, "string:LABEL" or the
// builtin reference).
func (g *Grammar) Source() string { return g.source }

// Words returns the distinct words the grammar uses, lower case and
// sorted: every one must be in the model's dictionary.
func (g *Grammar) Words() []string { return slices.Clone(g.words) }

// Key identifies the grammar's content (not its source).
func (g *Grammar) Key() string { return g.key }

// JSGF returns the parsed grammar of a KindJSGF grammar (nil otherwise).
func (g *Grammar) JSGF() *jsgf.Grammar { return g.jsgf }

// Keywords returns the phrases of a KindKeywords grammar.
func (g *Grammar) Keywords() []Keyword { return slices.Clone(g.keywords) }

// Match reports whether text (space-separated words) is a sentence of the
// grammar; for a keyword grammar, whether it is one of the phrases.
func (g *Grammar) Match(text string) bool {
	words := strings.Fields(strings.ToLower(text))
	if g.kind == KindKeywords {
		joined := strings.Join(words, " ")
		for _, k := range g.keywords {
			if k.Phrase == joined {
				return true
			}
		}
		return false
	}
	return g.jsgf.Match(words)
}

// maxGrammarFile bounds grammar files and strings.
const maxGrammarFile = jsgf.MaxSize

// ErrGrammar is wrapped by every grammar loading error that is the
// grammar's fault (syntax, unknown builtin, empty list); errors.Is works
// with jsgf.ErrSyntax too for JSGF syntax errors.
var ErrGrammar = errors.New("speech: bad grammar")

// ParseJSGF parses a JSGF grammar from text; source names it in errors
// ("menu.gram", or a label for grammars kept in the store).
func ParseJSGF(source string, text []byte) (*Grammar, error) {
	g, err := jsgf.Parse(source, text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGrammar, err)
	}
	return fromJSGF(source, g), nil
}

func fromJSGF(source string, g *jsgf.Grammar) *Grammar {
	set := map[string]bool{}
	for _, w := range g.Words() {
		set[strings.ToLower(w)] = true
	}
	words := make([]string, 0, len(set))
	for w := range set {
		words = append(words, w)
	}
	slices.Sort(words)
	combined := jsgf.Combine("g", []jsgf.Part{{Grammar: g, Prefix: "g_"}}, strings.ToLower)
	return &Grammar{kind: KindJSGF, source: source, jsgf: g, words: words, key: hashKey("jsgf", combined)}
}

func hashKey(kind, text string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + text))
	return hex.EncodeToString(h[:12])
}

// LoadGrammarFile reads a grammar file: ".kws", ".kwlist" and ".keywords"
// files are keyword lists (ParseKeywords), anything else JSGF. Errors name
// the file and, for syntax errors, the line ("menu.gram:3:17: ...").
func LoadGrammarFile(path string) (*Grammar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("speech: grammar file: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxGrammarFile+1)); err != nil {
		return nil, fmt.Errorf("speech: grammar file %s: %w", path, err)
	}
	if buf.Len() > maxGrammarFile {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrGrammar, path, maxGrammarFile)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".kws", ".kwlist", ".keywords":
		return ParseKeywords(path, buf.Bytes())
	}
	return ParseJSGF(path, buf.Bytes())
}

// ParseKeywords parses a keyword list in pocketsphinx's -kws file format:
// one phrase per line, optionally followed by its threshold between
// slashes ("support /1e-40/"); blank lines and lines starting with '#' are
// skipped.
func ParseKeywords(source string, text []byte) (*Grammar, error) {
	var kws []Keyword
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), maxGrammarFile)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k := Keyword{Phrase: s}
		if i := strings.IndexByte(s, '/'); i >= 0 {
			rest := strings.TrimSpace(s[i:])
			if len(rest) < 3 || !strings.HasSuffix(rest, "/") {
				return nil, fmt.Errorf("%w: %s:%d: threshold must be written /1e-20/", ErrGrammar, source, line)
			}
			th, err := strconv.ParseFloat(strings.TrimSpace(rest[1:len(rest)-1]), 64)
			if err != nil || th <= 0 || th > 1 {
				return nil, fmt.Errorf("%w: %s:%d: bad threshold %q (a probability such as 1e-20)", ErrGrammar, source, line, rest)
			}
			k.Phrase, k.Threshold = strings.TrimSpace(s[:i]), th
		}
		if k.Phrase == "" {
			return nil, fmt.Errorf("%w: %s:%d: threshold without a phrase", ErrGrammar, source, line)
		}
		kws = append(kws, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrGrammar, source, err)
	}
	return KeywordGrammar(source, kws)
}

// KeywordGrammar makes a keyword-spotting grammar from phrases.
func KeywordGrammar(source string, kws []Keyword) (*Grammar, error) {
	if len(kws) == 0 {
		return nil, fmt.Errorf("%w: %s: no keywords", ErrGrammar, source)
	}
	set := map[string]bool{}
	out := make([]Keyword, 0, len(kws))
	var b strings.Builder
	for _, k := range kws {
		phrase := strings.Join(strings.Fields(strings.ToLower(k.Phrase)), " ")
		if phrase == "" {
			return nil, fmt.Errorf("%w: %s: empty keyword", ErrGrammar, source)
		}
		if k.Threshold == 0 {
			k.Threshold = DefaultKeywordThreshold
		}
		if k.Threshold < 0 || k.Threshold > 1 {
			return nil, fmt.Errorf("%w: %s: keyword %q: threshold %g out of (0,1]", ErrGrammar, source, phrase, k.Threshold)
		}
		k.Phrase = phrase
		out = append(out, k)
		for _, w := range strings.Fields(phrase) {
			set[w] = true
		}
		fmt.Fprintf(&b, "%s /%g/\n", phrase, k.Threshold)
	}
	words := make([]string, 0, len(set))
	for w := range set {
		words = append(words, w)
	}
	slices.Sort(words)
	return &Grammar{kind: KindKeywords, source: source, keywords: out, words: words, key: hashKey("kws", b.String())}, nil
}

// KeywordFile renders the grammar's keywords in pocketsphinx's -kws file
// format.
func (g *Grammar) KeywordFile() string {
	var b strings.Builder
	for _, k := range g.keywords {
		fmt.Fprintf(&b, "%s /%g/\n", k.Phrase, k.Threshold)
	}
	return b.String()
}

// The words of the built-in grammars (the en-us model's dictionary).
var (
	digitWords = []string{"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
)

// BuiltinPrefix starts a builtin grammar reference, as UniMRCP's
// "builtin:grammar/digits" does for Asterisk's res_speech engines.
const BuiltinPrefix = "builtin:"

// Builtin returns a built-in grammar by reference:
//
//	digits                      one or more digits ("one two three")
//	digits?length=4             exactly four digits
//	digits?oh=1                 "oh" accepted for zero
//	digits?minlength=2;maxlength=6
//	yesno                       yes or no
//	menu?words=sales,support    one of the listed words or phrases
//	keywords?words=sales,support;threshold=1e-20   keyword spotting
//
// The "builtin:" prefix and UniMRCP's "grammar/" are accepted and ignored;
// parameters are separated by ';' or '&'.
func Builtin(ref string) (*Grammar, error) {
	ref = strings.TrimPrefix(strings.TrimSpace(ref), BuiltinPrefix)
	ref = strings.TrimPrefix(ref, "grammar/")
	name, query, _ := strings.Cut(ref, "?")
	params, err := url.ParseQuery(strings.ReplaceAll(query, ";", "&"))
	if err != nil {
		return nil, fmt.Errorf("%w: builtin:%s: %w", ErrGrammar, ref, err)
	}
	intParam := func(k string, def int) (int, error) {
		v := params.Get(k)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return 0, fmt.Errorf("%w: builtin:%s: %s=%q (1-64)", ErrGrammar, ref, k, v)
		}
		return n, nil
	}
	list := func() []string {
		var out []string
		for _, w := range strings.Split(params.Get("words"), ",") {
			if w = strings.TrimSpace(w); w != "" {
				out = append(out, w)
			}
		}
		return out
	}
	switch name {
	case "digits":
		lo, err := intParam("minlength", 1)
		if err != nil {
			return nil, err
		}
		hi, err := intParam("maxlength", 0)
		if err != nil {
			return nil, err
		}
		if n, err := intParam("length", 0); err != nil {
			return nil, err
		} else if n > 0 {
			lo, hi = n, n
		}
		if hi != 0 && hi < lo {
			return nil, fmt.Errorf("%w: builtin:%s: maxlength below minlength", ErrGrammar, ref)
		}
		return digitsGrammar(lo, hi, params.Get("oh") == "1" || params.Get("oh") == "true")
	case "yesno", "boolean":
		return YesNoGrammar(), nil
	case "menu":
		return MenuGrammar(list())
	case "keywords":
		th := 0.0
		if v := params.Get("threshold"); v != "" {
			if th, err = strconv.ParseFloat(v, 64); err != nil {
				return nil, fmt.Errorf("%w: builtin:%s: threshold %q", ErrGrammar, ref, v)
			}
		}
		var kws []Keyword
		for _, w := range list() {
			kws = append(kws, Keyword{Phrase: w, Threshold: th})
		}
		return KeywordGrammar(BuiltinPrefix+ref, kws)
	}
	return nil, fmt.Errorf("%w: unknown builtin grammar %q (digits, yesno, menu, keywords)", ErrGrammar, name)
}

// DigitsGrammar accepts min to max spoken digits (max 0: no limit). A
// bounded grammar ("exactly four") recognises better than an open loop.
// "oh" for zero is left out: it is short enough to be inserted between
// other digits, and leaving it out raised the measured digit accuracy
// from 72% to 75% (docs/speech.md); Builtin's "oh=1" puts it back.
func DigitsGrammar(min, max int) (*Grammar, error) { return digitsGrammar(min, max, false) }

func digitsGrammar(min, max int, oh bool) (*Grammar, error) {
	if min < 1 || (max != 0 && max < min) || max > 64 || min > 64 {
		return nil, fmt.Errorf("%w: digits length %d-%d", ErrGrammar, min, max)
	}
	var b strings.Builder
	b.WriteString("#JSGF V1.0;\ngrammar digits;\npublic <digits> =")
	for i := 0; i < min; i++ {
		b.WriteString(" <digit>")
	}
	switch {
	case max == 0:
		b.WriteString(" <digit>*")
	default:
		for i := min; i < max; i++ {
			b.WriteString(" [<digit>")
		}
		b.WriteString(strings.Repeat("]", max-min))
	}
	words := digitWords
	if !oh {
		words = slices.DeleteFunc(slices.Clone(digitWords), func(w string) bool { return w == "oh" })
	}
	b.WriteString(";\n<digit> = " + strings.Join(words, " | ") + ";\n")
	src := "builtin:digits"
	switch {
	case min == max:
		src += "?length=" + strconv.Itoa(min)
	case min != 1 || max != 0:
		src += fmt.Sprintf("?minlength=%d;maxlength=%d", min, max)
	}
	if oh {
		src += ";oh=1"
	}
	return mustJSGF(src, b.String())
}

// YesNoGrammar is the built-in yes/no grammar: the two words only. A
// closed grammar maps "yeah" to "yes" and "nope" to "no" by sound, so the
// result text is always "yes" or "no" (adding the variants as words made
// them compete: "yes" came back as "yeah" in half the measured cases).
func YesNoGrammar() *Grammar {
	g, err := mustJSGF("builtin:yesno", "#JSGF V1.0;\ngrammar yesno;\npublic <yesno> = yes | no;\n")
	if err != nil {
		panic(err) // a constant grammar
	}
	return g
}

// MenuGrammar accepts exactly one of items (words or short phrases such as
// "sales", "technical support", "two"), the grammar of an IVR menu.
func MenuGrammar(items []string) (*Grammar, error) {
	var alts []string
	for _, it := range items {
		words := strings.Fields(strings.ToLower(it))
		if len(words) == 0 {
			continue
		}
		for _, w := range words {
			if strings.ContainsAny(w, `;=|*+<>()[]{}"/`) {
				return nil, fmt.Errorf("%w: menu item %q: word %q has JSGF punctuation", ErrGrammar, it, w)
			}
		}
		alts = append(alts, strings.Join(words, " "))
	}
	if len(alts) == 0 {
		return nil, fmt.Errorf("%w: menu grammar without items", ErrGrammar)
	}
	return mustJSGF("builtin:menu?words="+strings.Join(alts, ","),
		"#JSGF V1.0;\ngrammar menu;\npublic <item> = "+strings.Join(alts, " | ")+";\n")
}

func mustJSGF(source, text string) (*Grammar, error) {
	g, err := jsgf.Parse(source, []byte(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrGrammar, source, err)
	}
	return fromJSGF(source, g), nil
}

// OpenGrammar loads a grammar by the reference SpeechLoadGrammar(name,path)
// gives: "builtin:..." (Builtin) or a file path (LoadGrammarFile); relative
// paths are taken under dir when dir is not empty (Asterisk takes them
// relative to its working directory; entVoice to its grammar directory).
func OpenGrammar(ref, dir string) (*Grammar, error) {
	if strings.HasPrefix(ref, BuiltinPrefix) {
		return Builtin(ref)
	}
	if ref == "" {
		return nil, fmt.Errorf("%w: empty grammar path", ErrGrammar)
	}
	if dir != "" && !filepath.IsAbs(ref) {
		ref = filepath.Join(dir, ref)
	}
	return LoadGrammarFile(ref)
}

// DigitText turns recognised digit words into digits ("one two oh" ->
// "120"); ok is false when text has a word that is not a digit.
func DigitText(text string) (string, bool) {
	var b strings.Builder
	for _, w := range strings.Fields(strings.ToLower(text)) {
		switch i := slices.Index(digitWords, w); {
		case i == 0 || i == 1:
			b.WriteByte('0')
		case i > 1:
			b.WriteByte(byte('0' + i - 1))
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}
