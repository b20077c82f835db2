// DFG benchmark channel (Schafer & Turek 1996): [0, 2.2] x [0, 0.41] minus
// the cylinder of diameter 0.1 centred at (0.2, 0.2).
// Physical groups: "inlet" (x = 0), "outlet" (x = 2.2), "walls" (y = 0 and
// y = 0.41), "obstacle" (the circle), "fluid".
// Mesh with:  gmsh -2 -format msh41 dfg_cylinder.geo -o dfg.msh  [-clscale s]
// (lc: size in the channel; the cylinder and its wake are refined)
lc = 0.04;
lcc = lc / 5;
Point(1) = {0, 0, 0, lc};
Point(2) = {2.2, 0, 0, lc};
Point(3) = {2.2, 0.41, 0, lc};
Point(4) = {0, 0.41, 0, lc};
Point(5) = {0.2, 0.2, 0, lcc};
Point(6) = {0.25, 0.2, 0, lcc};
Point(7) = {0.2, 0.25, 0, lcc};
Point(8) = {0.15, 0.2, 0, lcc};
Point(9) = {0.2, 0.15, 0, lcc};
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
// finer cells near the cylinder and in its wake
Field[1] = Distance;
Field[1].CurvesList = {5, 6, 7, 8};
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = lcc;
Field[2].SizeMax = lc;
Field[2].DistMin = 0.02;
Field[2].DistMax = 0.3;
Field[3] = Box;
Field[3].VIn = lc / 2;
Field[3].VOut = lc;
Field[3].XMin = 0.15;
Field[3].XMax = 1.2;
Field[3].YMin = 0.05;
Field[3].YMax = 0.36;
Field[4] = Min;
Field[4].FieldsList = {2, 3};
Background Field = 4;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeFromCurvature = 0;
Physical Curve("inlet") = {4};
Physical Curve("outlet") = {2};
Physical Curve("walls") = {1, 3};
Physical Curve("obstacle") = {5, 6, 7, 8};
Physical Surface("fluid") = {1};
