package moh

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/entvoice/entvoice/internal/astconf"
)

// Config is a musiconhold.conf: its classes in file order.
type Config struct {
	Classes []ClassConfig
	// PreferChannelClass is [general] preferchannelclass (default yes): the
	// channel's musicclass wins over the one an application asks for.
	// Choosing the class is the application's business; it is kept here.
	PreferChannelClass bool
}

// ClassConfig is one [class] of musiconhold.conf.
type ClassConfig struct {
	Name string
	// Mode is "files" (every playable file of Directory) or "playlist"
	// (the Entries, in order).
	Mode string
	// Directory is absolute (LoadConfig resolves a relative one).
	Directory string
	// Entries are absolute file paths, with or without extension.
	Entries []string
	// Sort is "alpha" (also the order when unset), "random" (a random
	// file after each one) or "randstart" (alphabetical, from a random
	// first file).
	Sort string
	// LoopLast repeats the last file for ever once it is reached.
	LoopLast bool
	// Announcement, Digit and AnsweredOnly are kept for the application
	// (MusicOnHold, queues): playing the announcement when a listener
	// starts, switching class on a digit and refusing unanswered channels
	// are per-listener decisions above the shared stream.
	Announcement string
	Digit        string
	AnsweredOnly bool

	// File and Line locate the [class] header.
	File string
	Line int
}

// Modes and sort orders.
const (
	ModeFiles    = "files"
	ModePlaylist = "playlist"

	SortAlpha     = "alpha"
	SortRandom    = "random"
	SortRandStart = "randstart"
)

// DefaultConfig is the configuration without a musiconhold.conf: class
// "default" playing the files of dir (when dir holds none, Player
// synthesises a tune).
func DefaultConfig(dir string) *Config {
	return &Config{PreferChannelClass: true, Classes: []ClassConfig{{Name: "default", Mode: ModeFiles, Directory: dir, Sort: SortAlpha}}}
}

// LoadConfig reads a musiconhold.conf. A relative directory= is taken
// relative to base (Asterisk uses astdatalibdir, /var/lib/asterisk; pass
// "" for the directory of the file itself). Errors name file:line.
//
// Refused: mode=custom, mp3, mp3nb, quietmp3 and quietmp3nb and their
// application= and format= keys (they run an external decoder process),
// playlist entries that are URLs or relative paths, unknown keys and
// malformed values (Asterisk would log and carry on). Accepted and
// ignored: [general] cachertclasses (there are no realtime classes here)
// and kill_escalation_delay / kill_method (only for mode=custom). A class
// listed twice is an error.
func LoadConfig(path, base string) (*Config, error) {
	secs, err := astconf.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("moh: %w", err)
	}
	if base == "" {
		base = filepath.Dir(path)
	}
	cfg := &Config{PreferChannelClass: true}
	seen := map[string]bool{}
	for _, s := range secs {
		if s.Template {
			continue
		}
		if strings.EqualFold(s.Name, "general") {
			if err := cfg.general(s); err != nil {
				return nil, fmt.Errorf("moh: %w", err)
			}
			continue
		}
		c, err := parseClass(s, base)
		if err != nil {
			return nil, fmt.Errorf("moh: %w", err)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("moh: %w", s.Errorf("class [%s] defined twice", c.Name))
		}
		seen[c.Name] = true
		cfg.Classes = append(cfg.Classes, c)
	}
	return cfg, nil
}

func (cfg *Config) general(s *astconf.Section) error {
	for _, v := range s.Vars {
		switch strings.ToLower(v.Name) {
		case "cachertclasses":
			if _, err := v.Bool(); err != nil {
				return err
			}
		case "preferchannelclass":
			b, err := v.Bool()
			if err != nil {
				return err
			}
			cfg.PreferChannelClass = b
		default:
			return v.Errorf("unknown [general] key %q", v.Name)
		}
	}
	return nil
}

func parseClass(s *astconf.Section, base string) (ClassConfig, error) {
	c := ClassConfig{Name: s.Name, Mode: ModeFiles, Sort: SortAlpha, File: s.File, Line: s.Line}
	for _, v := range s.Vars {
		var err error
		switch strings.ToLower(v.Name) {
		case "mode":
			switch m := strings.ToLower(v.Value); m {
			case ModeFiles, ModePlaylist:
				c.Mode = m
			case "custom", "mp3", "mp3nb", "quietmp3", "quietmp3nb":
				return c, v.Errorf("mode=%s runs an external decoder, which is not supported (use mode=files with WAV files)", m)
			default:
				return c, v.Errorf("unknown mode %q (files or playlist)", v.Value)
			}
		case "directory":
			c.Directory = v.Value
			if c.Directory != "" && !filepath.IsAbs(c.Directory) {
				c.Directory = filepath.Join(base, c.Directory)
			}
		case "entry":
			if strings.Contains(v.Value, "://") {
				return c, v.Errorf("playlist entry %q: URLs are not supported", v.Value)
			}
			if !filepath.IsAbs(v.Value) {
				return c, v.Errorf("playlist entry %q must be an absolute path", v.Value)
			}
			c.Entries = append(c.Entries, v.Value)
		case "sort":
			switch o := strings.ToLower(v.Value); o {
			case SortAlpha, SortRandom, SortRandStart:
				c.Sort = o
			default:
				return c, v.Errorf("unknown sort %q (alpha, random or randstart)", v.Value)
			}
		case "random": // deprecated since Asterisk 14 for sort=random
			var on bool
			if on, err = v.Bool(); on {
				c.Sort = SortRandom
			}
		case "loop_last":
			c.LoopLast, err = v.Bool()
		case "announcement":
			c.Announcement = v.Value
		case "digit":
			if len(v.Value) != 1 || !strings.Contains("0123456789*#", v.Value) {
				return c, v.Errorf("digit %q must be one of 0-9, * or #", v.Value)
			}
			c.Digit = v.Value
		case "answeredonly":
			c.AnsweredOnly, err = v.Bool()
		case "application", "format":
			return c, v.Errorf("%s= belongs to mode=custom, which is not supported", v.Name)
		case "kill_escalation_delay", "kill_method":
		default:
			return c, v.Errorf("unknown key %q in class [%s]", v.Name, s.Name)
		}
		if err != nil {
			return c, err
		}
	}
	switch {
	case c.Mode == ModeFiles && c.Directory == "":
		return c, s.Errorf("class [%s]: mode=files needs a directory=", s.Name)
	case c.Mode == ModePlaylist && len(c.Entries) == 0:
		return c, s.Errorf("class [%s]: mode=playlist needs at least one entry=", s.Name)
	}
	return c, nil
}
