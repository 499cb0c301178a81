"""Where transactions happen: a built-in table of real cities and distances.

Sixty cities on every inhabited continent, each with its ISO 3166-1 alpha-2
country. Customers live in one of them; card-present merchants sit within a
few kilometres of a city centre. ``haversine_km`` is the great-circle distance
the impossible-travel scenario and its tests measure speeds with.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

EARTH_RADIUS_KM = 6371.0088


class City(NamedTuple):
    name: str
    country: str
    lat: float
    lon: float
    #: relative share of customers living there (rough metro population, millions)
    weight: float


CITIES: tuple[City, ...] = (
    # North America
    City("New York", "US", 40.7128, -74.0060, 19.0),
    City("Los Angeles", "US", 34.0522, -118.2437, 12.5),
    City("Chicago", "US", 41.8781, -87.6298, 9.4),
    City("Houston", "US", 29.7604, -95.3698, 7.1),
    City("Miami", "US", 25.7617, -80.1918, 6.1),
    City("Seattle", "US", 47.6062, -122.3321, 4.0),
    City("San Francisco", "US", 37.7749, -122.4194, 4.7),
    City("Boston", "US", 42.3601, -71.0589, 4.9),
    City("Toronto", "CA", 43.6532, -79.3832, 6.2),
    City("Vancouver", "CA", 49.2827, -123.1207, 2.6),
    City("Montreal", "CA", 45.5017, -73.5673, 4.3),
    City("Mexico City", "MX", 19.4326, -99.1332, 21.8),
    City("Guadalajara", "MX", 20.6597, -103.3496, 5.3),
    # South America
    City("Sao Paulo", "BR", -23.5505, -46.6333, 22.0),
    City("Rio de Janeiro", "BR", -22.9068, -43.1729, 13.5),
    City("Buenos Aires", "AR", -34.6037, -58.3816, 15.4),
    City("Santiago", "CL", -33.4489, -70.6693, 6.9),
    City("Lima", "PE", -12.0464, -77.0428, 10.9),
    City("Bogota", "CO", 4.7110, -74.0721, 11.3),
    # Europe
    City("London", "GB", 51.5074, -0.1278, 14.3),
    City("Manchester", "GB", 53.4808, -2.2426, 2.8),
    City("Dublin", "IE", 53.3498, -6.2603, 1.4),
    City("Paris", "FR", 48.8566, 2.3522, 11.1),
    City("Lyon", "FR", 45.7640, 4.8357, 2.3),
    City("Berlin", "DE", 52.5200, 13.4050, 6.1),
    City("Munich", "DE", 48.1351, 11.5820, 2.9),
    City("Hamburg", "DE", 53.5511, 9.9937, 3.4),
    City("Madrid", "ES", 40.4168, -3.7038, 6.7),
    City("Barcelona", "ES", 41.3874, 2.1686, 5.6),
    City("Lisbon", "PT", 38.7223, -9.1393, 2.9),
    City("Rome", "IT", 41.9028, 12.4964, 4.3),
    City("Milan", "IT", 45.4642, 9.1900, 4.3),
    City("Amsterdam", "NL", 52.3676, 4.9041, 2.5),
    City("Brussels", "BE", 50.8503, 4.3517, 2.1),
    City("Zurich", "CH", 47.3769, 8.5417, 1.4),
    City("Vienna", "AT", 48.2082, 16.3738, 2.9),
    City("Stockholm", "SE", 59.3293, 18.0686, 2.4),
    City("Warsaw", "PL", 52.2297, 21.0122, 3.1),
    City("Istanbul", "TR", 41.0082, 28.9784, 15.6),
    # Africa
    City("Lagos", "NG", 6.5244, 3.3792, 15.4),
    City("Cairo", "EG", 30.0444, 31.2357, 21.3),
    City("Nairobi", "KE", -1.2921, 36.8219, 5.1),
    City("Johannesburg", "ZA", -26.2041, 28.0473, 10.0),
    City("Cape Town", "ZA", -33.9249, 18.4241, 4.8),
    City("Casablanca", "MA", 33.5731, -7.5898, 3.8),
    # Middle East and Asia
    City("Dubai", "AE", 25.2048, 55.2708, 3.5),
    City("Riyadh", "SA", 24.7136, 46.6753, 7.7),
    City("Mumbai", "IN", 19.0760, 72.8777, 21.3),
    City("Delhi", "IN", 28.7041, 77.1025, 32.9),
    City("Bangalore", "IN", 12.9716, 77.5946, 13.6),
    City("Singapore", "SG", 1.3521, 103.8198, 5.9),
    City("Bangkok", "TH", 13.7563, 100.5018, 11.1),
    City("Jakarta", "ID", -6.2088, 106.8456, 11.2),
    City("Manila", "PH", 14.5995, 120.9842, 14.7),
    City("Hong Kong", "HK", 22.3193, 114.1694, 7.5),
    City("Shanghai", "CN", 31.2304, 121.4737, 29.2),
    City("Beijing", "CN", 39.9042, 116.4074, 21.8),
    City("Seoul", "KR", 37.5665, 126.9780, 9.9),
    City("Tokyo", "JP", 35.6762, 139.6503, 37.2),
    City("Osaka", "JP", 34.6937, 135.5023, 19.0),
    # Oceania
    City("Sydney", "AU", -33.8688, 151.2093, 5.4),
    City("Melbourne", "AU", -37.8136, 144.9631, 5.2),
    City("Auckland", "NZ", -36.8485, 174.7633, 1.7),
)

CITY_LAT = np.array([c.lat for c in CITIES])
CITY_LON = np.array([c.lon for c in CITIES])
CITY_COUNTRY = tuple(c.country for c in CITIES)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def city_distances_km() -> np.ndarray:
    """Matrix of great-circle distances between every pair of ``CITIES``."""
    lat, lon = np.radians(CITY_LAT), np.radians(CITY_LON)
    dp = lat[:, None] - lat[None, :]
    dl = lon[:, None] - lon[None, :]
    a = np.sin(dp / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def scatter(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray,
            radius_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Points uniformly within ``radius_km`` of each (lat, lon) centre."""
    n = len(lat)
    r = radius_km * np.sqrt(rng.random(n))
    theta = rng.random(n) * 2 * np.pi
    dlat = (r * np.cos(theta)) / 111.32
    dlon = (r * np.sin(theta)) / (111.32 * np.maximum(np.cos(np.radians(lat)), 0.05))
    return lat + dlat, lon + dlon
