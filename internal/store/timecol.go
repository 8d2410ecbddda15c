package store

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// sqliteTimeLayout is the fixed-width UTC text form of timestamps on
// SQLite. Fixed width makes text order equal time order, so range filters
// and ORDER BY work on the column directly.
const sqliteTimeLayout = "2006-01-02 15:04:05.000000"

// TimeArg returns the value to bind for a timestamp column: nil for the
// zero time (SQL NULL), otherwise t in UTC truncated to microseconds, as
// fixed-width text on SQLite and as a time.Time on PostgreSQL.
func (s *Store) TimeArg(t time.Time) any {
	return s.dialect.TimeArg(t)
}

// TimeArg is [Store.TimeArg] for a dialect.
func (d Dialect) TimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	if d == SQLite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// NullTime scans a timestamp column from either engine. A NULL leaves
// Time zero. The result is always in UTC.
type NullTime struct {
	Time time.Time
}

// Scan implements sql.Scanner.
func (n *NullTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.Time = time.Time{}
		return nil
	case time.Time:
		n.Time = v.UTC()
		return nil
	case string:
		return n.parse(v)
	case []byte:
		return n.parse(string(v))
	default:
		return fmt.Errorf("store: cannot scan %T into a timestamp", src)
	}
}

func (n *NullTime) parse(s string) error {
	if s == "" {
		n.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{sqliteTimeLayout, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			n.Time = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("store: unparsable timestamp %q", s)
}

// Value implements driver.Valuer with the SQLite text form, so a NullTime
// can also be bound directly; prefer [Store.TimeArg].
func (n NullTime) Value() (driver.Value, error) {
	if n.Time.IsZero() {
		return nil, nil
	}
	return n.Time.UTC().Truncate(time.Microsecond).Format(sqliteTimeLayout), nil
}
