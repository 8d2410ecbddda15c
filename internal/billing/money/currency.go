// Package money holds the exact arithmetic of billing: ISO 4217
// currencies with their minor-unit exponents, amounts as integer minor
// units, prices as integers scaled by 10^9 (nano units) parsed from
// decimal strings, and the rounding modes a rate plan may choose.
//
// Nothing here uses floating point. Users of older rating engines report
// costs that drift by a cent because a price per second was stored with
// four decimals or rounded per increment; here a price keeps up to nine
// decimals exactly and a call's cost is rounded once, at the end.
package money

import (
	"fmt"
	"strings"
)

// Currency is an ISO 4217 currency: its alphabetic code and the number of
// decimals of its minor unit (EUR 2, JPY 0, BHD 3, CLF 4). The zero value
// is no currency.
type Currency struct {
	code string
	exp  uint8
}

// Code returns the three-letter code ("" for the zero Currency).
func (c Currency) Code() string { return c.code }

// Exponent returns the number of decimals of the minor unit.
func (c Currency) Exponent() int { return int(c.exp) }

// IsZero says whether c is the zero (unset) Currency.
func (c Currency) IsZero() bool { return c.code == "" }

// String returns the code.
func (c Currency) String() string { return c.code }

// MarshalText implements encoding.TextMarshaler.
func (c Currency) MarshalText() ([]byte, error) { return []byte(c.code), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Currency) UnmarshalText(b []byte) error {
	cur, err := ParseCurrency(string(b))
	if err != nil {
		return err
	}
	*c = cur
	return nil
}

// ErrUnknownCurrency is wrapped by ParseCurrency for a code not in the
// table.
var ErrUnknownCurrency = fmt.Errorf("unknown currency")

// ParseCurrency returns the currency of an ISO 4217 alphabetic code
// (case-insensitive). Codes without a minor unit (gold, SDRs, test codes)
// and withdrawn codes are unknown: an account cannot hold them.
func ParseCurrency(code string) (Currency, error) {
	up := strings.ToUpper(strings.TrimSpace(code))
	if e, ok := exponents[up]; ok {
		return Currency{code: up, exp: e}, nil
	}
	return Currency{}, fmt.Errorf("%w %q (want an ISO 4217 code such as EUR, USD, JPY)", ErrUnknownCurrency, code)
}

// MustCurrency is ParseCurrency for constants in tests and examples; it
// panics on an unknown code.
func MustCurrency(code string) Currency {
	c, err := ParseCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

// exponents is ISO 4217 list one (active codes with a minor unit) and
// each code's minor-unit exponent. It is written out rather than taken
// from golang.org/x/text/currency, which follows CLDR's display digits:
// those differ from ISO 4217's for several currencies (CLDR shows IQD,
// some zero-decimal display currencies and cash roundings differently),
// and billing must settle in the unit the currency really has.
var exponents = func() map[string]uint8 {
	m := map[string]uint8{}
	for _, c := range strings.Fields(`AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL
		BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR
		FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT
		LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK
		NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN
		SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG`) {
		m[c] = 2
	}
	for _, c := range strings.Fields(`BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF`) {
		m[c] = 0
	}
	for _, c := range strings.Fields(`BHD IQD JOD KWD LYD OMR TND`) {
		m[c] = 3
	}
	for _, c := range strings.Fields(`CLF UYW`) {
		m[c] = 4
	}
	return m
}()
