// Unit square with a circular hole of radius 0.15 at its centre: a Darcy
// domain with a hole (no-flux on every boundary by default).
// Physical groups: "outer" (the square's sides), "hole" (the circle), "domain".
// Mesh with:  gmsh -2 -format msh41 plate_hole.geo -o plate_hole.msh  [-clscale s]
lc = 0.03;
Point(1) = {0, 0, 0, lc};
Point(2) = {1, 0, 0, lc};
Point(3) = {1, 1, 0, lc};
Point(4) = {0, 1, 0, lc};
Point(5) = {0.5, 0.5, 0, lc};
Point(6) = {0.65, 0.5, 0, lc};
Point(7) = {0.5, 0.65, 0, lc};
Point(8) = {0.35, 0.5, 0, lc};
Point(9) = {0.5, 0.35, 0, lc};
Line(1) = {1, 2};
Line(2) = {2, 3};
Line(3) = {3, 4};
Line(4) = {4, 1};
Circle(5) = {6, 5, 7};
Circle(6) = {7, 5, 8};
Circle(7) = {8, 5, 9};
Circle(8) = {9, 5, 6};
Curve Loop(1) = {1, 2, 3, 4};
Curve Loop(2) = {5, 6, 7, 8};
Plane Surface(1) = {1, 2};
Physical Curve("outer") = {1, 2, 3, 4};
Physical Curve("hole") = {5, 6, 7, 8};
Physical Surface("domain") = {1};
