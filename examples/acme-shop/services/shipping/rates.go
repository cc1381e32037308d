// Package shipping quotes delivery prices and tracks parcels for the shop.
package shipping

import (
	"errors"
	"fmt"
)

// Zone is a delivery region with its own price table.
type Zone string

const (
	ZoneDomestic Zone = "domestic"
	ZoneEU       Zone = "eu"
	ZoneWorld    Zone = "world"
)

// ErrTooHeavy is returned for parcels above the carrier's weight limit.
var ErrTooHeavy = errors.New("parcel exceeds 30 kg")

// FreeShippingCents is the subtotal from which domestic delivery is free.
const FreeShippingCents = 5000

var baseCents = map[Zone]int{ZoneDomestic: 490, ZoneEU: 990, ZoneWorld: 2490}
var perKiloCents = map[Zone]int{ZoneDomestic: 50, ZoneEU: 120, ZoneWorld: 400}

// Quote returns the delivery price in cents for a parcel of weightGrams to zone.
// Started kilograms are charged in full; domestic orders over FreeShippingCents ship free.
func Quote(zone Zone, weightGrams int, subtotalCents int) (int, error) {
	base, ok := baseCents[zone]
	if !ok {
		return 0, fmt.Errorf("unknown zone %q", zone)
	}
	if weightGrams <= 0 {
		return 0, fmt.Errorf("weight must be positive, got %d g", weightGrams)
	}
	if weightGrams > 30000 {
		return 0, ErrTooHeavy
	}
	if zone == ZoneDomestic && subtotalCents >= FreeShippingCents {
		return 0, nil
	}
	kilos := (weightGrams + 999) / 1000
	return base + (kilos-1)*perKiloCents[zone], nil
}

// ZoneFor maps an ISO 3166 country code to a zone, from the shop's home country.
func ZoneFor(country string, home string, eu map[string]bool) Zone {
	switch {
	case country == home:
		return ZoneDomestic
	case eu[country]:
		return ZoneEU
	default:
		return ZoneWorld
	}
}
