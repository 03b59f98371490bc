# written by rgc-bench-report: data points available per plot
have_a3 = 6
have_c = 6
have_b1 = 6
have_scan = 6
have_irq = 3
have_incr = 6
have_vs = 14
