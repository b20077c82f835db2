// L-shaped domain [0,1]^2 minus [0.5,1]x[0.5,1]... rotated so the corner
// squares of the Darcy benchmark's source (near (0,0)) and sink stay inside:
// the removed quadrant is [0.5,1]x[0,0.5], giving a re-entrant corner at
// (0.5,0.5).  Physical groups: "outer" (all sides but the left one),
// "left" (x = 0), "domain".
// Mesh with:  gmsh -2 -format msh41 lshape.geo -o lshape.msh  [-clscale s]
lc = 0.03;
Point(1) = {0, 0, 0, lc};
Point(2) = {0.5, 0, 0, lc};
Point(3) = {0.5, 0.5, 0, lc / 4};
Point(4) = {1, 0.5, 0, lc};
Point(5) = {1, 1, 0, lc};
Point(6) = {0, 1, 0, lc};
Line(1) = {1, 2};
Line(2) = {2, 3};
Line(3) = {3, 4};
Line(4) = {4, 5};
Line(5) = {5, 6};
Line(6) = {6, 1};
Curve Loop(1) = {1, 2, 3, 4, 5, 6};
Plane Surface(1) = {1};
Physical Curve("outer") = {1, 2, 3, 4, 5};
Physical Curve("left") = {6};
Physical Surface("domain") = {1};
