set terminal pngcairo size 1100,600 font ",11"
set output "docs/results/distill-fmnist-reduced/acc_vs_iterations_dc.png"
set xlabel "distillation iterations"
set ylabel "test accuracy (%), mean ± sd"
set key outside right top
set grid
set xrange [-0.6:21.0]
plot "docs/results/distill-fmnist-reduced/acc_vs_iterations_dc.dat" index 0 using 2:3:4 with yerrorlines lw 2 title "dc-dsa-ipc10", \
  "docs/results/distill-fmnist-reduced/acc_vs_iterations_dc.dat" index 1 using 2:3:4 with yerrorlines lw 2 title "dc-ipc10", \
  85.240 with lines dt 2 title "full (85.2%)", \
  64.242 with lines dt 2 title "herding-ipc1 (64.2%)", \
  48.792 with lines dt 2 title "random-ipc1 (48.8%)", \
  72.542 with lines dt 2 title "random-ipc10 (72.5%)"
