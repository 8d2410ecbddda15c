package amd

import (
	"fmt"
	"strings"

	"github.com/entvoice/entvoice/internal/astconf"
)

// Config is amd.conf: the defaults of AMD()'s parameters and the file
// played to the callee while the analysis runs.
type Config struct {
	Params
	PlaybackFile string
}

// DefaultConfig is what AMD uses without amd.conf.
func DefaultConfig() Config { return Config{Params: DefaultParams()} }

// LoadConfig reads amd.conf. As app_amd.c does, only the [general] section
// counts and it starts from the built-in defaults. A key app_amd.c does
// not know, or a value that is not a non-negative integer, is an error
// naming the file and line (app_amd.c warns and uses atoi's result; a
// misspelt key that silently changes nothing is worse here).
func LoadConfig(path string) (Config, error) {
	secs, err := astconf.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("amd: %w", err)
	}
	cfg := DefaultConfig()
	for _, s := range secs {
		if s.Template || !strings.EqualFold(s.Name, "general") {
			continue
		}
		for _, v := range s.Vars {
			if err := cfg.set(v); err != nil {
				return Config{}, fmt.Errorf("amd: %w", err)
			}
		}
	}
	return cfg, nil
}

func (c *Config) set(v astconf.Var) error {
	name := strings.ToLower(v.Name)
	if name == "playback_file" {
		c.PlaybackFile = v.Value
		return nil
	}
	fields := map[string]*int{
		"initial_silence":         &c.InitialSilence,
		"greeting":                &c.Greeting,
		"after_greeting_silence":  &c.AfterGreetingSilence,
		"silence_threshold":       &c.SilenceThreshold,
		"total_analysis_time":     &c.TotalAnalysisTime,
		"min_word_length":         &c.MinimumWordLength,
		"between_words_silence":   &c.BetweenWordsSilence,
		"maximum_number_of_words": &c.MaximumNumberOfWords,
		"maximum_word_length":     &c.MaximumWordLength,
	}
	f, ok := fields[name]
	if !ok {
		return v.Errorf("unknown keyword %q in [general]", v.Name)
	}
	n, err := v.Int()
	if err != nil {
		return err
	}
	if n < 0 {
		return v.Errorf("%s must not be negative", v.Name)
	}
	*f = n
	return nil
}

// WithArgs applies AMD()'s arguments, in app_amd.c's order:
// initialSilence, greeting, afterGreetingSilence, totalAnalysisTime,
// minimumWordLength, betweenWordsSilence, maximumNumberOfWords,
// silenceThreshold, maximumWordLength, audioFile. An empty argument keeps
// the default; a number is read as C's atoi does (leading digits, else 0).
// It returns the parameters and the file to play during the analysis
// (the config's playback_file unless the tenth argument names one).
func (c Config) WithArgs(args []string) (Params, string) {
	p := c.Params
	fields := []*int{&p.InitialSilence, &p.Greeting, &p.AfterGreetingSilence, &p.TotalAnalysisTime,
		&p.MinimumWordLength, &p.BetweenWordsSilence, &p.MaximumNumberOfWords, &p.SilenceThreshold, &p.MaximumWordLength}
	file := c.PlaybackFile
	for i, a := range args {
		if a == "" {
			continue
		}
		switch {
		case i < len(fields):
			*fields[i] = atoi(a)
		case i == len(fields):
			file = a
		}
	}
	return p, file
}

// atoi is C's atoi: optional spaces and sign, then digits; anything else
// stops the number (and no digits give 0).
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			break
		}
	}
	if neg {
		return -n
	}
	return n
}
