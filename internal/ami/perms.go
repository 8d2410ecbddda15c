package ami

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Class is a set of AMI permission classes: a bitmask with Asterisk's bit
// numbers (perms[] in main/manager.c), so numeric Events masks mean the
// same as on Asterisk.
type Class int

// The classes.
const (
	ClassSystem    Class = 1 << 0
	ClassCall      Class = 1 << 1
	ClassLog       Class = 1 << 2
	ClassVerbose   Class = 1 << 3
	ClassCommand   Class = 1 << 4
	ClassAgent     Class = 1 << 5
	ClassUser      Class = 1 << 6
	ClassConfig    Class = 1 << 7
	ClassDTMF      Class = 1 << 8
	ClassReporting Class = 1 << 9
	ClassCDR       Class = 1 << 10
	ClassDialplan  Class = 1 << 11
	ClassOriginate Class = 1 << 12
	ClassAGI       Class = 1 << 13
	ClassCC        Class = 1 << 14
	ClassAOC       Class = 1 << 15
	ClassTest      Class = 1 << 16
	ClassSecurity  Class = 1 << 18
	ClassMessage   Class = 1 << 30
	ClassAll       Class = math.MaxInt32
)

// perms is Asterisk's table, in its order (authority_to_str walks it).
var perms = []struct {
	c    Class
	name string
}{
	{ClassSystem, "system"}, {ClassCall, "call"}, {ClassLog, "log"}, {ClassVerbose, "verbose"},
	{ClassCommand, "command"}, {ClassAgent, "agent"}, {ClassUser, "user"}, {ClassConfig, "config"},
	{ClassDTMF, "dtmf"}, {ClassReporting, "reporting"}, {ClassCDR, "cdr"}, {ClassDialplan, "dialplan"},
	{ClassOriginate, "originate"}, {ClassAGI, "agi"}, {ClassCC, "cc"}, {ClassAOC, "aoc"},
	{ClassTest, "test"}, {ClassSecurity, "security"}, {ClassMessage, "message"},
}

// ParseClasses reads a manager.conf read=/write= list: comma-separated
// class names, "all" or "none" (get_perm).
func ParseClasses(s string) (Class, error) {
	var c Class
	for _, w := range strings.Split(s, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		switch w {
		case "":
			continue
		case "all":
			c |= ClassAll
			continue
		case "none":
			continue
		}
		found := false
		for _, p := range perms {
			if p.name == w {
				c |= p.c
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown AMI class %q", w)
		}
	}
	return c, nil
}

// ParseEventMask reads an Events:/EventMask: value (strings_to_mask): a
// decimal bitmask, a boolean (on/yes/true is every class, off/no/false
// none) or a class list. It returns -1 for an empty or invalid value.
func ParseEventMask(s string) Class {
	s = strings.TrimSpace(s)
	if s == "" {
		return -1
	}
	if n, err := strconv.Atoi(s); err == nil && !strings.ContainsAny(s, "+-") {
		return Class(n)
	}
	switch strings.ToLower(s) {
	case "no", "false", "n", "f", "0", "off":
		return 0
	case "yes", "true", "y", "t", "1", "on":
		var all Class
		for _, p := range perms {
			all |= p.c
		}
		return all
	}
	// get_perm ignores unknown words.
	var c Class
	for _, w := range strings.Split(s, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "all" {
			c |= ClassAll
		}
		for _, p := range perms {
			if p.name == w {
				c |= p.c
			}
		}
	}
	return c
}

// privilege renders an event's Privilege value (authority_to_str): its
// class labels then "all".
func privilege(c Class) string {
	var b strings.Builder
	for _, p := range perms {
		if c&p.c != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(p.name)
		}
	}
	if b.Len() > 0 {
		b.WriteByte(',')
	}
	b.WriteString("all")
	return b.String()
}
