package shipping

import (
	"fmt"
	"sort"
	"time"
)

// Status is a parcel's delivery state.
type Status int

const (
	StatusLabelled Status = iota
	StatusInTransit
	StatusOutForDelivery
	StatusDelivered
)

// Event is one scan reported by the carrier.
type Event struct {
	At       time.Time
	Status   Status
	Location string
}

// Latest returns the most recent event, or an error when there are none.
// Carriers deliver events out of order, so they are sorted by time first.
func Latest(events []Event) (Event, error) {
	if len(events) == 0 {
		return Event{}, fmt.Errorf("no tracking events yet")
	}
	sorted := append([]Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	return sorted[len(sorted)-1], nil
}

// IsLate reports whether a parcel not yet delivered is past its promised date.
func IsLate(events []Event, promised time.Time, now time.Time) bool {
	last, err := Latest(events)
	if err == nil && last.Status == StatusDelivered {
		return false
	}
	return now.After(promised)
}

// Label is the customer-facing text for a status.
func Label(s Status) string {
	switch s {
	case StatusLabelled:
		return "Label created"
	case StatusInTransit:
		return "On its way"
	case StatusOutForDelivery:
		return "Out for delivery"
	case StatusDelivered:
		return "Delivered"
	default:
		return "Unknown"
	}
}
