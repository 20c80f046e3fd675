"""scikit-learn: Cython estimators, trees, KMeans (OpenMP), pipelines; deterministic seeds."""
from sklearn.cluster import KMeans
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

X, y = make_classification(n_samples=400, n_features=10, random_state=0)
lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
print("logreg acc", round(lr.score(X, y), 6))
rf = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
print("rf acc", round(rf.score(X, y), 6), "importances", [round(v, 4) for v in rf.feature_importances_[:3]])
print("svc cv", [round(v, 4) for v in cross_val_score(SVC(), X, y, cv=3)])
km = KMeans(n_clusters=3, n_init=3, random_state=0).fit(X)
print("kmeans inertia", round(km.inertia_, 3))
