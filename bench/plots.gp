# bench/plots.gp - PNG plots of the benchmark's data files (written by rgc-bench-report, which also
# writes plot_flags.gp: how many data points each plot has; a plot without data is skipped).
# usage: gnuplot -e "dir='bench/results'" bench/plots.gp
if (!exists("dir")) dir = "bench/results"
have_a3 = 0; have_c = 0; have_b1 = 0; have_scan = 0; have_irq = 0; have_incr = 0; have_vs = 0
load dir."/plot_flags.gp"
set terminal pngcairo size 800,480 font "sans,10"
set grid ytics
set key top left
set key font ",9"
set datafile missing "nan"

set style fill solid 0.8 border -1
set boxwidth 0.9

# A3: per-call allocation latency percentiles per allocator (A2 steady state, S=2048)
if (have_a3 > 0) {
  set output dir."/a3_latency.png"
  set title "A3: allocation latency in A2's steady state (S=2048, heap 1 MiB)"
  set ylabel "latency (ns, log scale)"
  set logscale y
  set style data histograms
  set style histogram clustered gap 1
  plot dir."/a3.dat" using 2:xtic(1) title "p50", "" using 3 title "p99", "" using 4 title "p99.9", \
       "" using 5 title "max"
}

# C: fragmented vs empty heap, mean latency per allocator (py/gc.c measured in the same run)
if (have_c > 0) {
  set output dir."/c_fragmented.png"
  set xtics noenhanced
  set title "C: mean allocation latency, fragmented (90% filled, every other freed) vs empty heap"
  set ylabel "mean latency (ns, log scale)"
  set logscale y
  set style data histograms
  set style histogram clustered gap 1
  plot dir."/c.dat" using 2:xtic(1) title "fragmented, 2 blocks", "" using 3 title "fragmented, 1 block", \
       "" using 4 title "empty, 2 blocks", "" using 5 title "empty, 1 block"
}

# rgc vs py/gc.c: rgc's speed over py/gc.c's per case (> 1: rgc faster), both block sizes
if (have_vs > 0) {
  set terminal pngcairo size 1000,600 font "sans,10"
  set output dir."/vs_mpgc.png"
  set xtics noenhanced rotate by -30 left
  set title "rgc speed / MicroPython py/gc.c speed, same harness and run (> 1: rgc faster)" noenhanced
  set ylabel "speed ratio (log scale)"
  set logscale y
  set style data histograms
  set style histogram clustered gap 1
  plot dir."/vs_mpgc.dat" using 2:xtic(1) title "32-byte blocks", "" using 3 title "16-byte blocks", \
       1 with lines dt 2 lc rgb "black" notitle
  set xtics norotate
  set terminal pngcairo size 800,480 font "sans,10"
}

# Interrupt latency per foreground mode
if (have_irq > 0) {
  set output dir."/irq_latency.png"
  set title "rgc_alloc latency in a level-1 handler (host simulator, 20 kHz timer)" noenhanced
  set ylabel "latency (ns, log scale)"
  set logscale y
  set style data histograms
  set style histogram clustered gap 1
  plot dir."/irq.dat" using 2:xtic(1) title "p50", "" using 3 title "p99", "" using 4 title "max"
}

set style data linespoints
set xlabel "heap (KiB, log scale)"
set logscale x 4

# Scaling: collection time per pool block and table bytes scanned per allocation vs heap size
if (have_b1 > 0) {
  set output dir."/scaling.png"
  if (have_scan > 0) { set multiplot layout 1,2 title "Scaling with heap size (rgc, 32 B blocks)" }
  set title "B1: median collection time per pool block"
  unset logscale y
  set ylabel "ns per pool block"
  set yrange [0:*]
  plot dir."/scaling.dat" using 1:3 with linespoints lw 2 pt 7 title "rgc"
  if (have_scan > 0) {
    set title "A2 (S = 2048 x heap / 1 MiB): table bytes scanned per allocation"
    set ylabel "table bytes per allocation (log scale)"
    set logscale y
    set yrange [*:*]
    plot dir."/scaling.dat" using 1:5 with linespoints lw 2 pt 7 title "rgc", \
         64 with lines dt 2 lc rgb "black" title "target: 64"
    unset multiplot
  }
}

# Incremental collection: step length vs heap size for a fixed budget (issue #6)
if (have_incr > 0) {
  set output dir."/incr_step.png"
  set title "rgc\\_collect\\_step(h, 256): step length vs heap size (B1 live set, foreground allocating)"
  set ylabel "ns (log scale)"
  set logscale y
  set yrange [1000:1e10]
  plot dir."/incr.dat" using 1:5 with linespoints lw 2 pt 7 title "longest later step (thread CPU time)", \
       "" using 1:3 with linespoints lw 2 pt 5 title "p99.9 step (thread CPU time)", \
       "" using 1:2 with linespoints lw 2 pt 4 title "median step (thread CPU time)", \
       "" using 1:4 with linespoints pt 9 title "longest first step (root snapshot, CPU time)", \
       "" using 1:6 with linespoints dt 3 pt 6 title "longest later step (wall: host preemption included)", \
       "" using 1:7 with linespoints dt 2 pt 1 title "full rgc\\_collect (B1 median)"
}
