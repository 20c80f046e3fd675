"""pyproj: PROJ (vendored) with its proj.db data file: CRS lookups and transforms."""
from pyproj import CRS, Geod, Transformer

t = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
x, y = t.transform(2.3522, 48.8566)
print("3857", round(x, 3), round(y, 3))
utm = CRS.from_epsg(32631)
print("utm", utm.name, utm.axis_info[0].unit_name)
print("back", [round(v, 6) for v in Transformer.from_crs(utm, "EPSG:4326", always_xy=True).transform(448251.8, 5411932.7)])
az, _, dist = Geod(ellps="WGS84").inv(2.3522, 48.8566, -0.1276, 51.5072)
print("geod", round(az, 4), round(dist, 1))
