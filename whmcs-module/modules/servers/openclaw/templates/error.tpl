{* Shown instead of the instance details when its status cannot be read; staff find the cause in the module log. *}
<div class="alert alert-warning">
    {$usefulErrorHelper|escape:'html'}
</div>
