// The inference engine; see issue 6.
