# plot.gp — time per element vs n for the size sweep, one panel per kernel.
# gnuplot -e "tsv='sweep.tsv'; out='sweep.png'; fmt='png'" perf/plot.gp
if (fmt eq 'svg') { set terminal svg size 1500,480 dynamic font 'sans,11' } else { set terminal pngcairo size 1500,480 font 'sans,10' }
set output out
set datafile separator "\t"
set logscale xy
set format x "10^{%L}"
set xlabel "n (elements)"
set ylabel "ns per element (median)"
set key top right
set grid
set multiplot layout 1,3 title "libprange size sweep: serial vs OpenMP vs libprange (lower is better)"
kernels = "sum triad map"
variants = "serial omp omp-libomp omp-multiacc prange prange-hint callback tbb"
do for [k in kernels] {
  set title k
  plot for [v in variants] tsv using (strcol(1) eq k && strcol(2) eq v ? $4 : 1/0):(strcol(1) eq k && strcol(2) eq v ? $8 : 1/0) \
       every ::1 with linespoints title v
}
unset multiplot
