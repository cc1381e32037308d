package com.acme.payments;

import java.time.Duration;
import java.time.Instant;

/** Decides whether and how much of an order can be refunded. */
public final class RefundPolicy {

    /** Customers may return goods within this period after delivery. */
    public static final Duration RETURN_WINDOW = Duration.ofDays(30);

    /** Share of the price kept as a restocking fee for opened items, in basis points. */
    public static final int RESTOCKING_FEE_BASIS_POINTS = 1500;

    private RefundPolicy() {}

    /** Whether a return requested at {@code requestedAt} is within the window after delivery. */
    public static boolean isRefundable(Instant deliveredAt, Instant requestedAt) {
        if (requestedAt.isBefore(deliveredAt)) {
            throw new IllegalArgumentException("refund requested before delivery");
        }
        return !requestedAt.isAfter(deliveredAt.plus(RETURN_WINDOW));
    }

    /**
     * Amount to refund in cents: the full price, or the price minus the restocking fee
     * (rounded half away from zero) when the item was opened.
     */
    public static long refundCents(long priceCents, boolean opened) {
        if (priceCents < 0) {
            throw new IllegalArgumentException("price must not be negative");
        }
        if (!opened) {
            return priceCents;
        }
        long fee = Math.round(priceCents * RESTOCKING_FEE_BASIS_POINTS / 10_000.0);
        return priceCents - fee;
    }
}
