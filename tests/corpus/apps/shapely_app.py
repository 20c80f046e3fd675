"""shapely 2: GEOS (vendored): buffers, unions, predicates, WKB/WKT, vectorized ops."""
import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

a = Point(0, 0).buffer(1.0, quad_segs=16)
b = Polygon([(0, 0), (2, 0), (2, 2), (0, 2)])
print("area", round(a.area, 6), "inter", round(a.intersection(b).area, 6), "union", round(a.union(b).area, 6))
print("touches", LineString([(0, 0), (1, 1)]).touches(Point(1, 1)))
print("wkb", shapely.to_wkb(shapely.simplify(a, 0.2), hex=True)[:40])
pts = shapely.points(np.arange(10.0), np.arange(10.0) ** 0.5)
print("vector dist", np.round(shapely.distance(pts, b), 4).tolist())
print("hull", shapely.convex_hull(shapely.multipoints(pts)).wkt[:60])
print("geos", shapely.geos_version[0])
