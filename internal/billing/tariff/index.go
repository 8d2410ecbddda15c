package tariff

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Index is the longest-prefix index of one deck version: immutable once
// built, safe for concurrent lookups. A lookup walks the dialled digits
// from the first, like a digit trie, and stops at the first prefix that
// neither exists nor leads to a longer one, so it touches only as many
// entries as the number shares digits with the deck. The first
// levels are dense arrays (five levels: 111,110 entries, under a
// megabyte; six for the largest decks); longer prefixes are integer keys (value × 16 + length) of
// one Go map, where each entry also says whether longer prefixes follow.
// A pointer trie would be as fast but take several times the memory at a
// million prefixes.
type Index struct {
	rates []Rate
	dense [maxDense + 1][]uint64
	// levels is how many prefix lengths are dense: more for bigger
	// decks (a million prefixes: 6 levels, 8.9 MB; small decks: 3).
	levels int
	spans  map[uint64]uint64 // lengths > levels
	loc    *time.Location
	n      int
}

// maxDense is the most prefix lengths held in arrays.
const maxDense = 6

// An entry is first<<32 | count of its rows (count 0: no rows of its
// own), with flagLonger when a longer prefix starts with it; 0 is absent.
const flagLonger = 1 << 63

func (ix *Index) entry(v uint64, l int) uint64 {
	if l <= ix.levels {
		return ix.dense[l][v]
	}
	return ix.spans[v<<4|uint64(l)]
}

func (ix *Index) setEntry(v uint64, l int, f func(uint64) uint64) {
	if l <= ix.levels {
		ix.dense[l][v] = f(ix.dense[l][v])
		return
	}
	k := v<<4 | uint64(l)
	ix.spans[k] = f(ix.spans[k])
}

// NewIndex builds the index of rates (which it keeps and sorts; they must
// have passed Validate, as ParseCSV's result and a stored version have).
// loc is the deck's time zone, in which bands are read.
func NewIndex(rates []Rate, loc *time.Location) (*Index, error) {
	if loc == nil {
		loc = time.UTC
	}
	if !slices.IsSortedFunc(rates, cmpRate) {
		slices.SortFunc(rates, cmpRate)
	}
	ix := &Index{rates: rates, spans: make(map[uint64]uint64, len(rates)), loc: loc}
	switch {
	case len(rates) >= 300_000:
		ix.levels = 6
	case len(rates) >= 30_000:
		ix.levels = 5
	default:
		ix.levels = 3
	}
	for l := 1; l <= ix.levels; l++ {
		ix.dense[l] = make([]uint64, pow10i(l))
	}
	for i := 0; i < len(rates); {
		j := i + 1
		for j < len(rates) && rates[j].Prefix == rates[i].Prefix {
			j++
		}
		p := rates[i].Prefix
		if p == "" || len(p) > MaxDigits || !allDigits(p) {
			return nil, fmt.Errorf("tariff: bad prefix %q", p)
		}
		var v uint64
		for l := 1; l <= len(p); l++ {
			v = v*10 + uint64(p[l-1]-'0')
			if l < len(p) {
				ix.setEntry(v, l, func(e uint64) uint64 { return e | flagLonger })
			} else {
				span := uint64(i)<<32 | uint64(j-i)
				ix.setEntry(v, l, func(e uint64) uint64 { return e&flagLonger | span })
			}
		}
		ix.n++
		i = j
	}
	return ix, nil
}

func pow10i(n int) int {
	r := 1
	for range n {
		r *= 10
	}
	return r
}

func cmpRate(a, b Rate) int {
	if c := cmpPrefix(a.Prefix, b.Prefix); c != 0 {
		return c
	}
	if c := a.From.Compare(b.From); c != 0 {
		return c
	}
	return strings.Compare(a.Band.text, b.Band.text)
}

// Len returns the number of rows.
func (ix *Index) Len() int { return len(ix.rates) }

// Prefixes returns the number of distinct prefixes.
func (ix *Index) Prefixes() int { return ix.n }

// Rates returns the rows, sorted by prefix (length, then digits), start
// and band. The caller must not change them.
func (ix *Index) Rates() []Rate { return ix.rates }

// Lookup returns the rate for E.164 digits at time t: the row of the
// longest prefix of digits that has a row in force at t, preferring a row
// whose band contains t over the prefix's row without band. A prefix with
// no row in force at t (not yet effective, or expired) is skipped, as if
// absent.
func (ix *Index) Lookup(digits string, t time.Time) (*Rate, bool) {
	n := min(len(digits), MaxDigits)
	var best *Rate
	mow := -1
	var v uint64
	for l := 1; l <= n; l++ {
		c := digits[l-1]
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + uint64(c-'0')
		e := ix.entry(v, l)
		if e == 0 {
			break
		}
		if count := int(e & 0xffffffff); count > 0 {
			first := int(e>>32) & 0x7fffffff
			if r := ix.pick(first, count, t, &mow); r != nil {
				best = r
			}
		}
		if e&flagLonger == 0 {
			break
		}
	}
	return best, best != nil
}

// pick returns the row of a prefix for t: in force, with a band that
// contains t, else the prefix's row without band; nil if none.
func (ix *Index) pick(first, count int, t time.Time, mow *int) *Rate {
	var def *Rate
	for i := first; i < first+count; i++ {
		r := &ix.rates[i]
		if !r.InForce(t) {
			continue
		}
		if r.Band.IsZero() {
			def = r
			continue
		}
		if *mow < 0 {
			*mow = MinuteOfWeek(t, ix.loc)
		}
		if r.Band.ContainsMinute(*mow) {
			return r
		}
	}
	return def
}
