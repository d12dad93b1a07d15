set terminal pngcairo size 1100,600 font ",11"
set output "docs/results/distill-fmnist-reduced/acc_vs_iterations.png"
set xlabel "distillation iterations"
set ylabel "test accuracy (%), mean ± sd"
set key outside right top
set grid
set xrange [-12.0:420.0]
plot "docs/results/distill-fmnist-reduced/acc_vs_iterations.dat" index 0 using 2:3:4 with yerrorlines lw 2 title "dm-dsa-ipc1", \
  "docs/results/distill-fmnist-reduced/acc_vs_iterations.dat" index 1 using 2:3:4 with yerrorlines lw 2 title "dm-dsa-ipc10", \
  85.180 with lines dt 2 title "full (85.2%)", \
  64.242 with lines dt 2 title "herding-ipc1 (64.2%)", \
  75.020 with lines dt 2 title "herding-ipc10 (75.0%)", \
  48.792 with lines dt 2 title "random-ipc1 (48.8%)", \
  72.542 with lines dt 2 title "random-ipc10 (72.5%)"
