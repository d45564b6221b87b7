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
    {if $requests}
    <h4>Your requests</h4>
    <table class="table table-condensed">
        {foreach $requests as $request}
        <tr>
            <td>{$request.label|escape:'html'}</td>
            <td>{if $request.state eq 'done'}done{else}in progress{/if} <small>(requested {$request.requestedAt|escape:'html'})</small></td>
        </tr>
        {/foreach}
    </table>
    {/if}
    {if $billing}
    <h4>What you are paying for now</h4>
    <table class="table table-condensed">
        {foreach $billing as $item}
        <tr><td>{$item.label|escape:'html'}</td><td>{$item.value|escape:'html'}</td></tr>
        {/foreach}
    </table>
    {/if}
    <h4>Backups</h4>
    <p>Schedule: {$backupSchedule|escape:'html'}
    {if $restoreState eq 'pending'}<br><span class="label label-warning">Restoring backup {$restoreBackup|escape:'html'}&hellip;</span>
    {elseif $restoreState eq 'failed'}<br><small class="text-danger">Backup {$restoreBackup|escape:'html'} could not be restored; the instance runs on its previous state. Choose another backup.</small>
    {elseif $restoreState eq 'done'}<br><small>Restored from backup {$restoreBackup|escape:'html'}.</small>{/if}
    {if $backupInProgress}<br><span class="label label-info">{$backupInProgress|escape:'html'} backup in progress&hellip;</span>{/if}
    {if $backupProblem}<br><small class="text-danger">The last backup failed: {$backupProblem|escape:'html'}</small>{/if}
    </p>
    {if $backups}
    <table class="table table-condensed openclaw-backups">
        <tr><th>Taken</th><th>Size</th><th>Kind</th><th></th></tr>
        {foreach $backups as $backup}
        <tr>
            <td>{$backup.takenAt|escape:'html'}</td>
            <td>{$backup.size|escape:'html'}</td>
            <td>{$backup.kind|escape:'html'}</td>
            <td>{if $backup.restorable}
                <form method="post" action="clientarea.php?action=productdetails" style="display: inline">
                    <input type="hidden" name="token" value="{$token|escape:'html'}">
                    <input type="hidden" name="id" value="{$serviceid|escape:'html'}">
                    <input type="hidden" name="modop" value="custom">
                    <input type="hidden" name="a" value="restorebackup">
                    <input type="hidden" name="openclaw_backup" value="{$backup.id|escape:'html'}">
                    <button type="submit" class="btn btn-default btn-xs" onclick="return confirm('Restore this backup? What changed since it was taken is replaced (a backup of the current state is taken first).');">Restore this backup</button>
                </form>
            {/if}</td>
        </tr>
        {/foreach}
    </table>
    {else}
    <p><small>No backups yet.</small></p>
    {/if}
    <div class="openclaw-actions">
    {if $canOpenControlUi}
        <a class="btn btn-primary" href="clientarea.php?action=productdetails&amp;id={$serviceid|escape:'url'}&amp;dosinglesignon=1" target="_blank" rel="noopener noreferrer">Open the Control UI</a>
    {/if}
    {foreach $actions as $action}
        <form method="post" action="clientarea.php?action=productdetails" style="display: inline">
            <input type="hidden" name="token" value="{$token|escape:'html'}">
            <input type="hidden" name="id" value="{$serviceid|escape:'html'}">
            <input type="hidden" name="modop" value="custom">
            <input type="hidden" name="a" value="{$action.function|escape:'html'}">
            <button type="submit" class="btn btn-default" onclick="return confirm('{$action.confirm|escape:'javascript'|escape:'html'}');">{$action.label|escape:'html'}</button>
        </form>
    {/foreach}
    </div>
    <h4>Your keys and tokens</h4>
    <table class="table table-condensed">
        {foreach $credentials as $credential}
        <tr><td>{$credential.label|escape:'html'}</td><td>{if $credential.configured}stored{else}not set{/if}</td></tr>
        {/foreach}
    </table>
    <form method="post" action="clientarea.php?action=productdetails" autocomplete="off">
        <input type="hidden" name="token" value="{$token|escape:'html'}">
        <input type="hidden" name="id" value="{$serviceid|escape:'html'}">
        <input type="hidden" name="modop" value="custom">
        <input type="hidden" name="a" value="updatecredentials">
        <p><small>A new value replaces the stored one. Stored values are never shown; leave a field empty to keep it.</small></p>
        <label>Model provider
            <select name="openclaw_provider">
                {foreach $providers as $provider}<option value="{$provider|escape:'html'}">{$provider|escape:'html'}</option>{/foreach}
            </select>
        </label>
        <label>API key <input type="password" name="openclaw_api_key" value=""></label>
        <label>Telegram bot token <input type="password" name="openclaw_telegram_token" value=""></label>
        <label>Discord bot token <input type="password" name="openclaw_discord_token" value=""></label>
        <button type="submit" class="btn btn-default">Store</button>
    </form>
{/if}
</div>
