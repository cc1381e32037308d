package com.acme.payments;

import java.time.YearMonth;
import java.util.Set;

/** Checks card payment requests before they are sent to the payment provider. */
public final class PaymentValidator {

    /** Currencies the shop's provider account settles. */
    public static final Set<String> SUPPORTED_CURRENCIES = Set.of("EUR", "USD", "GBP");

    private PaymentValidator() {}

    /**
     * Luhn check of a card number; spaces are ignored.
     *
     * @throws IllegalArgumentException if the number has characters other than digits and spaces
     */
    public static boolean isValidCardNumber(String number) {
        String digits = number.replace(" ", "");
        if (!digits.matches("\\d{12,19}")) {
            throw new IllegalArgumentException("card number must have 12-19 digits");
        }
        int sum = 0;
        boolean doubleIt = false;
        for (int i = digits.length() - 1; i >= 0; i--) {
            int d = digits.charAt(i) - '0';
            if (doubleIt) {
                d *= 2;
                if (d > 9) d -= 9;
            }
            sum += d;
            doubleIt = !doubleIt;
        }
        return sum % 10 == 0;
    }

    /** A card is usable through the last day of its expiry month. */
    public static boolean isExpired(YearMonth expiry, YearMonth current) {
        return expiry.isBefore(current);
    }

    /**
     * Validates an amount in cents and its currency.
     *
     * @throws IllegalArgumentException with a message support can read out to the customer
     */
    public static void requireValidAmount(long amountCents, String currency) {
        if (amountCents <= 0) {
            throw new IllegalArgumentException("amount must be positive, got " + amountCents);
        }
        if (!SUPPORTED_CURRENCIES.contains(currency)) {
            throw new IllegalArgumentException("currency " + currency + " is not supported");
        }
    }
}
