"""Consumer reports ("Báo cáo hàng giả"): what a shopper saw, where they bought it, an
optional phone number and photo, filed from the stamp page into the inspectors' queue."""
