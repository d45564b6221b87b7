{* Customer view of an OpenClaw instance (rendered inside the standard product overview).
   Every value comes from the Kubernetes resource or WHMCS, so every value is escaped. *}
<div class="openclaw-instance">
{if !$instanceExists}
    <div class="alert alert-info">Your OpenClaw instance is being prepared. This page will show its address once it is set up.</div>
{else}
    <h3>OpenClaw instance</h3>
    <table class="table table-striped">
        <tr>
            <td>Status</td>
            <td>
                {if $ready}<span class="label label-success">{$statusLabel|escape:'html'}</span>
                {else}<span class="label label-warning">{$statusLabel|escape:'html'}</span>{/if}
                {if $message}<br><small>{$message|escape:'html'}</small>{/if}
            </td>
        </tr>
        {if !$ready}
        <tr>
            <td>Progress</td>
            <td>
                {foreach $progress as $step}
                    <span class="label {if $step.state eq 'done'}label-success{else}label-default{/if}">{$step.label|escape:'html'}</span>
                {/foreach}
            </td>
        </tr>
        {/if}
        <tr>
            <td>Address</td>
            <td>
                {if $url}<a href="{$url|escape:'html'}" target="_blank" rel="noopener noreferrer">{$url|escape:'html'}</a>
                {else}{$hostname|escape:'html'} <small>(available once the instance is ready)</small>{/if}
            </td>
        </tr>
        <tr><td>IPv4</td><td>{if $ipv4}{$ipv4|escape:'html'}{else}&mdash;{/if}</td></tr>
        <tr><td>IPv6</td><td>{if $ipv6}{$ipv6|escape:'html'}{else}&mdash;{/if}</td></tr>
        {if $gatewayToken}
        <tr>
            <td>Gateway token</td>
            <td>
                <details>
                    <summary>Show token</summary>
                    <code style="user-select: all; word-break: break-all">{$gatewayToken|escape:'html'}</code>
                    <p><small>Clients connect to the gateway with this token. Keep it secret.</small></p>
                </details>
            </td>
        </tr>
        {/if}
    </table>
    {if $canReboot}
    <form method="post" action="clientarea.php?action=productdetails">
        <input type="hidden" name="token" value="{$token}">
        <input type="hidden" name="id" value="{$serviceid|escape:'html'}">
        <input type="hidden" name="modop" value="custom">
        <input type="hidden" name="a" value="reboot">
        <button type="submit" class="btn btn-default" onclick="return confirm('Reboot the OpenClaw server now?');">Reboot</button>
    </form>
    {/if}
{/if}
</div>
