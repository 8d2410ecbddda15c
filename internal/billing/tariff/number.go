package tariff

import (
	"errors"
	"fmt"
	"strings"
)

// MaxDigits is the longest E.164 number (ITU-T E.164 §6: 15 digits).
const MaxDigits = 15

// NumberPlan is a tenant's dialling rules, used to turn the number a
// caller dialled (the CDR's dst) into E.164 digits (country code first,
// no '+') before the longest-prefix match.
type NumberPlan struct {
	// CountryCode is the tenant's own country code ("33" for France, "1"
	// for the NANP); empty: national numbers cannot be recognised.
	CountryCode string `json:"country_code"`
	// NationalPrefix is the trunk prefix dialled before a national
	// number ("0" in most of Europe, "1" in the NANP); it is replaced by
	// CountryCode.
	NationalPrefix string `json:"national_prefix"`
	// InternationalPrefix is dialled before a country code ("00", "011").
	InternationalPrefix string `json:"international_prefix"`
	// AccessCode, when the number starts with it, is removed first (the
	// "9 for an outside line" of some PBXs).
	AccessCode string `json:"access_code"`
}

// Validate checks that every rule is digits only and that a national
// prefix comes with a country code.
func (p NumberPlan) Validate() error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"country_code", p.CountryCode}, {"national_prefix", p.NationalPrefix},
		{"international_prefix", p.InternationalPrefix}, {"access_code", p.AccessCode}} {
		if !allDigits(f.v) {
			errs = append(errs, fmt.Errorf("%s %q: digits only", f.name, f.v))
		}
		if len(f.v) > 4 {
			errs = append(errs, fmt.Errorf("%s %q: at most 4 digits", f.name, f.v))
		}
	}
	if p.NationalPrefix != "" && p.CountryCode == "" {
		errs = append(errs, errors.New("national_prefix needs a country_code"))
	}
	if p.CountryCode != "" && p.CountryCode[0] == '0' {
		errs = append(errs, fmt.Errorf("country_code %q: starts with 0", p.CountryCode))
	}
	return errors.Join(errs...)
}

// Normalize returns the E.164 digits of a dialled number: visual
// separators (space, '-', '.', '(', ')') are dropped; then AccessCode is
// removed; "+" or InternationalPrefix introduce a country code;
// NationalPrefix is replaced by CountryCode; any other digit string is
// taken as already international (what a carrier trunk usually sends).
// Numbers with other characters ('*', '#', letters) or more than 15
// digits are refused.
func (p NumberPlan) Normalize(dialled string) (string, error) {
	s := dialled
	if strings.ContainsAny(s, " -.()") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '-', '.', '(', ')':
				return -1
			}
			return r
		}, s)
	}
	if p.AccessCode != "" && strings.HasPrefix(s, p.AccessCode) && len(s) > len(p.AccessCode) {
		s = s[len(p.AccessCode):]
	}
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case p.InternationalPrefix != "" && strings.HasPrefix(s, p.InternationalPrefix):
		s = s[len(p.InternationalPrefix):]
	case p.NationalPrefix != "" && strings.HasPrefix(s, p.NationalPrefix):
		s = p.CountryCode + s[len(p.NationalPrefix):]
	}
	if s == "" || !allDigits(s) {
		return "", fmt.Errorf("%q is not a dialable number", dialled)
	}
	if len(s) > MaxDigits {
		return "", fmt.Errorf("%q has more than %d digits after normalisation", dialled, MaxDigits)
	}
	return s, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
