"""URLs of the example shop."""

from django.urls import path

from shop import views

urlpatterns = [
    path("", views.home),
    path("config/", views.config_status),
]
