"""The one-time set-up page of a new account (see ``accounts/setup.py``)."""

from __future__ import annotations

from django.contrib import auth, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from tandem.accounts import services
from tandem.accounts.forms import SetPasswordForm
from tandem.accounts.setup import user_for_setup
from tandem.core.decorators import public


@public
@never_cache
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Choose a password; the authenticator app is enrolled at the first sign-in."""
    user = user_for_setup(uidb64, token)
    if user is None:
        raise Http404  # used, expired or never issued: one answer
    form = SetPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_setup_complete(
                user=user, password=form.cleaned_data["password1"], request=request
            )
        except ValidationError as error:
            form.add_error("password1", error)
        else:
            auth.logout(request)  # whoever was signed in on this browser is not this person
            messages.success(
                request, "Your password is set. Sign in now: next you add your authenticator app."
            )
            return redirect("accounts:login")
    return render(request, "accounts/setup.html", {"form": form, "account": user})
