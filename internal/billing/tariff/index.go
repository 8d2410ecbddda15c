package tariff

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Index is the longest-prefix index of one deck version: immutable once
// built, safe for concurrent lookups. Prefixes are keyed as integers
// (value × 16 + length, which fits in 64 bits for 15 digits) in one Go
// map; a lookup tries, from the longest, only the prefix lengths the deck
// has, so it costs at most 15 map probes whatever the deck's size. A
// digit trie would be as fast but take ten times the memory at a million
// prefixes.
type Index struct {
	rates []Rate
	spans map[uint64]uint64 // key -> first<<32 | count
	lens  uint16            // bit l set: some prefix has l digits
	loc   *time.Location
}

func prefixKey(digits string) (uint64, bool) {
	if len(digits) == 0 || len(digits) > MaxDigits {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v<<4 | uint64(len(digits)), true
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
	for i := 0; i < len(rates); {
		j := i + 1
		for j < len(rates) && rates[j].Prefix == rates[i].Prefix {
			j++
		}
		k, ok := prefixKey(rates[i].Prefix)
		if !ok {
			return nil, fmt.Errorf("tariff: bad prefix %q", rates[i].Prefix)
		}
		ix.spans[k] = uint64(i)<<32 | uint64(j-i)
		ix.lens |= 1 << len(rates[i].Prefix)
		i = j
	}
	return ix, nil
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
func (ix *Index) Prefixes() int { return len(ix.spans) }

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
	var keys [MaxDigits + 1]uint64
	var v uint64
	for i := 0; i < n; i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			n = i
			break
		}
		v = v*10 + uint64(c-'0')
		keys[i+1] = v<<4 | uint64(i+1)
	}
	mow := -1
	for l := n; l >= 1; l-- {
		if ix.lens&(1<<l) == 0 {
			continue
		}
		span, ok := ix.spans[keys[l]]
		if !ok {
			continue
		}
		first, count := int(span>>32), int(span&0xffffffff)
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
			if mow < 0 {
				mow = MinuteOfWeek(t, ix.loc)
			}
			if r.Band.ContainsMinute(mow) {
				return r, true
			}
		}
		if def != nil {
			return def, true
		}
	}
	return nil, false
}
