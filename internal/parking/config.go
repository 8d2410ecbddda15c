package parking

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/entvoice/entvoice/internal/astconf"
)

// DefaultLot is the lot used when none is named (res_parking's
// DEFAULT_PARKING_LOT), which always exists.
const DefaultLot = "default"

// Slot search orders (findslot).
const (
	FindFirst = "first" // the lowest free space
	FindNext  = "next"  // the next free space after the last one given
)

// LotConfig is one parking lot of res_parking.conf.
type LotConfig struct {
	Name string
	// ParkExt is the extension that parks (Park()), "" for none;
	// ParkExtExclusive makes it park in this lot only.
	ParkExt          string
	ParkExtExclusive bool
	// Context holds the lot's extensions (default parkedcalls).
	Context string
	// Start and Stop are the spaces (parkpos), inclusive.
	Start, Stop int
	// ParkingTime is how long a call stays parked before it comes back,
	// seconds (0: forever).
	ParkingTime int
	// ComebackToOrigin sends a timed-out call back to its parker
	// (park-dial); otherwise to ComebackContext.
	ComebackToOrigin bool
	ComebackContext  string
	// ComebackDialTime is how long the parker is called back, seconds.
	ComebackDialTime int
	// MusicClass is what the parked call hears (parkedmusicclass; "" for
	// the channel's own or default).
	MusicClass string
	FindSlot   string
	// CourtesyTone is played to the parties ParkedPlay names (caller,
	// callee, both or no) when a parked call is picked up.
	CourtesyTone string
	ParkedPlay   string
	File         string
	Line         int
}

// Config is a res_parking.conf.
type Config struct {
	// Lots, the default lot first.
	Lots []LotConfig
}

// Lot finds a lot by name (exact, as res_parking's container).
func (c *Config) Lot(name string) (*LotConfig, bool) {
	for i := range c.Lots {
		if c.Lots[i].Name == name {
			return &c.Lots[i], true
		}
	}
	return nil, false
}

// newLot has res_parking's defaults (aco_option_register): no parkext,
// spaces 701-750 in parkedcalls, 45 s, back to the parker for 30 s.
func newLot(name string) LotConfig {
	return LotConfig{Name: name, Context: "parkedcalls", Start: 701, Stop: 750, ParkingTime: 45,
		ComebackToOrigin: true, ComebackContext: "parkedcallstimeout", ComebackDialTime: 30,
		FindSlot: FindFirst, ParkedPlay: "caller"}
}

// DefaultConfig is the parking without a res_parking.conf: the sample
// file's default lot, which a newcomer can dial: parkext 700, spaces
// 701-720 in context parkedcalls, 45 s, back to the parker.
func DefaultConfig() *Config {
	l := newLot(DefaultLot)
	l.ParkExt, l.Stop = "700", 720
	return &Config{Lots: []LotConfig{l}}
}

// LoadConfig reads a res_parking.conf. As res_parking does, a lot named
// default is added when the file has none (with its defaults: no parkext,
// so no extensions, and spaces 701-750). Errors name file:line: unknown
// keys, bad values, a lot defined twice, two lots with extensions whose
// spaces overlap in one context, [general] parkeddynamic=yes (dynamic
// lots are not supported).
func LoadConfig(path string) (*Config, error) {
	secs, err := astconf.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("res_parking: %w", err)
	}
	cfg := &Config{}
	for _, s := range secs {
		if s.Template {
			continue
		}
		if strings.EqualFold(s.Name, "general") {
			for _, v := range s.Vars {
				if !strings.EqualFold(v.Name, "parkeddynamic") {
					return nil, fmt.Errorf("res_parking: %w", v.Errorf("unknown [general] key %q", v.Name))
				}
				on, err := v.Bool()
				if err != nil {
					return nil, fmt.Errorf("res_parking: %w", err)
				}
				if on {
					return nil, fmt.Errorf("res_parking: %w", v.Errorf("parkeddynamic: dynamic parking lots are not supported"))
				}
			}
			continue
		}
		if _, dup := cfg.Lot(s.Name); dup {
			return nil, fmt.Errorf("res_parking: %w", s.Errorf("parking lot [%s] defined twice", s.Name))
		}
		l, err := parseLot(s)
		if err != nil {
			return nil, fmt.Errorf("res_parking: %w", err)
		}
		cfg.Lots = append(cfg.Lots, l)
	}
	if _, ok := cfg.Lot(DefaultLot); !ok {
		cfg.Lots = append([]LotConfig{newLot(DefaultLot)}, cfg.Lots...)
	}
	// Only lots with a parkext get extensions (the Park one and one per
	// space), and those may not overlap.
	for i, a := range cfg.Lots {
		for _, b := range cfg.Lots[i+1:] {
			if a.ParkExt != "" && b.ParkExt != "" && a.Context == b.Context && a.Start <= b.Stop && b.Start <= a.Stop {
				return nil, fmt.Errorf("res_parking: %s:%d: parking lot [%s]: spaces %d-%d overlap lot [%s] (%d-%d) in context %s",
					b.File, b.Line, b.Name, b.Start, b.Stop, a.Name, a.Start, a.Stop, a.Context)
			}
		}
	}
	return cfg, nil
}

func parseLot(s *astconf.Section) (LotConfig, error) {
	l := newLot(s.Name)
	l.File, l.Line = s.File, s.Line
	for _, v := range s.Vars {
		var err error
		switch strings.ToLower(v.Name) {
		case "parkext":
			l.ParkExt = strings.TrimSpace(v.Value)
		case "parkext_exclusive":
			l.ParkExtExclusive, err = v.Bool()
		case "context":
			l.Context = strings.TrimSpace(v.Value)
		case "parkpos":
			l.Start, l.Stop, err = parseRange(v)
		case "parkingtime":
			l.ParkingTime, err = nonNegative(v)
		case "comebacktoorigin":
			l.ComebackToOrigin, err = v.Bool()
		case "comebackcontext":
			l.ComebackContext = strings.TrimSpace(v.Value)
		case "comebackdialtime":
			l.ComebackDialTime, err = nonNegative(v)
		case "parkedmusicclass":
			l.MusicClass = strings.TrimSpace(v.Value)
		case "findslot":
			switch f := strings.ToLower(strings.TrimSpace(v.Value)); f {
			case FindFirst, FindNext:
				l.FindSlot = f
			default:
				err = v.Errorf("findslot: %q is not first or next", v.Value)
			}
		case "courtesytone":
			l.CourtesyTone = strings.TrimSpace(v.Value)
		case "parkedplay":
			switch p := strings.ToLower(strings.TrimSpace(v.Value)); p {
			case "caller", "callee", "both", "no":
				l.ParkedPlay = p
			default:
				err = v.Errorf("parkedplay: %q is not caller, callee, both or no", v.Value)
			}
		case "parkinghints":
			_, err = v.Bool()
		case "parkedcalltransfers", "parkedcallreparking", "parkedcallhangup", "parkedcallrecording":
			// Features granted to the parties of a retrieved call; the
			// bridge of a retrieved call has Dial's features only.
			switch strings.ToLower(strings.TrimSpace(v.Value)) {
			case "caller", "callee", "both", "no":
			default:
				err = v.Errorf("%s: %q is not caller, callee, both or no", v.Name, v.Value)
			}
		default:
			err = v.Errorf("unknown key %q in parking lot [%s]", v.Name, s.Name)
		}
		if err != nil {
			return l, err
		}
	}
	if l.Context == "" {
		return l, s.Errorf("parking lot [%s]: empty context", s.Name)
	}
	if l.ParkExt != "" {
		if _, err := strconv.Atoi(l.ParkExt); err == nil {
			if n, _ := strconv.Atoi(l.ParkExt); n >= l.Start && n <= l.Stop {
				return l, s.Errorf("parking lot [%s]: parkext %s is one of its spaces", s.Name, l.ParkExt)
			}
		}
	}
	return l, nil
}

// parseRange parses parkpos "701-720" (leading zeros ignored, as
// res_parking reads it numerically).
func parseRange(v astconf.Var) (int, int, error) {
	lo, hi, ok := strings.Cut(strings.TrimSpace(v.Value), "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || a <= 0 || b < a {
		return 0, 0, v.Errorf("parkpos: %q is not a range of spaces like 701-720", v.Value)
	}
	return a, b, nil
}

func nonNegative(v astconf.Var) (int, error) {
	n, err := v.Int()
	if err == nil && n < 0 {
		err = v.Errorf("%s: %d is negative", v.Name, n)
	}
	return n, err
}
