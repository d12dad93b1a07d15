set terminal pngcairo size 1100,600 font ",11"
set output "acc_vs_iterations_dc_1000ep.png"
set title "dc+DSA, Fashion-MNIST, 10 images per class, 1000 evaluation epochs (reduced CPU runs)"
set xlabel "outer iterations (the reference runs 1000)"
set ylabel "test accuracy (%), mean ± sd of 5 seeds"
set key outside right top
set grid
set xrange [0:160]
set yrange [74:86]
plot "acc_vs_iterations_dc_1000ep.dat" index 0 using 2:3:4 with yerrorlines lw 2 title "dc+DSA, width 32", \
  "acc_vs_iterations_dc_1000ep.dat" index 1 using 2:3:4 with yerrorlines pt 7 ps 1.5 lw 2 title "dc+DSA, width 128", \
  84.6 with lines dt 2 lw 2 title "DSA published (84.6%)", \
  82.3 with lines dt 3 title "DC published (82.3%)", \
  82.57 with lines dt 4 title "dm+DSA width 128, 1000 it (82.6%)", \
  75.37 with lines dt 5 title "random, width 128 (75.4%)", \
  74.93 with lines dt 6 title "random, width 32 (74.9%)"
